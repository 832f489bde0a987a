"""The fast-convergence options of the base model: the paired image term with its schedule,
DiffAugment on the discriminators' inputs and the projected discriminator (numerics on fixed
inputs; off is the old step)."""

import numpy as np
import pytest
import tensorflow as tf
from harness import run_call_checks

import keras_t2i as kt
from keras_t2i import losses
from keras_t2i.layers import DiffAugment
from keras_t2i.models.loss_terms import PairedImageTerm, TermInputs, WeightSchedule
from keras_t2i.models.projected_discriminator import ProjectedDiscriminator
from keras_t2i.text.damsm import DAMSMImageEncoder, DAMSMTextEncoder


@pytest.fixture(scope="module")
def text_encoder():
    return DAMSMTextEncoder(kt.data.caption_tokenizer("shapes", max_objects=1), embedding_dim=8,
                            units=8)


@pytest.fixture(scope="module")
def batch(text_encoder):
    ds = kt.data.load("shapes", "test", image_size=16, batch_size=4, num_scenes=4,
                      tokenizer=text_encoder.tokenizer, max_objects=1)
    return {k: v for k, v in next(iter(ds)).items() if k in ("image", "tokens", "class_id")}


def counting_images():
    return tf.reshape(tf.range(2 * 8 * 8, dtype=tf.float32), (2, 8, 8, 1)) + 1.0


def test_diffaugment_translates_and_cuts_out_as_drawn():
    images = counting_images()
    layer = DiffAugment(translation=0.25, cutout=0.5)  # shifts in [-2, 2], a 4-pixel square
    draws = tf.constant([[0.0, 0.99, 0.5, 0.5], [0.5, 0.5, 0.0, 0.0]])
    out = layer(images, draws).numpy()[..., 0]
    x = images.numpy()[..., 0]
    # Image 0: shifted up by 2 rows and right by 2 columns (zeros come in), then the square of
    # rows and columns 2..5 (centre 4) zeroed.
    expected = np.zeros((8, 8), "float32")
    expected[:6, 2:] = x[0, 2:, :6]
    expected[2:6, 2:6] = 0
    np.testing.assert_array_equal(out[0], expected)
    # Image 1: no shift (draw 0.5 is the middle of 5 shifts); the square centred on (0, 0) is
    # clipped to rows and columns 0..1.
    expected = x[1].copy()
    expected[:2, :2] = 0
    np.testing.assert_array_equal(out[1], expected)


def test_diffaugment_is_differentiable_and_serialises():
    images = counting_images()
    layer = DiffAugment(translation=0.25, cutout=0.5)
    draws = tf.constant([[0.0, 0.99, 0.5, 0.5], [0.5, 0.5, 0.0, 0.0]])
    with tf.GradientTape() as tape:
        tape.watch(images)
        out = layer(images, draws)
        total = tf.reduce_sum(out)
    grads = tape.gradient(total, images).numpy()
    # Each input pixel that survives counts once; the rest get no gradient.
    assert sorted(np.unique(grads)) == [0.0, 1.0]
    assert grads.sum() == np.count_nonzero(out.numpy())
    run_call_checks(layer, (images, draws), ((2, 8, 8, 1), "float32"))


def test_diffaugment_specs():
    assert DiffAugment.parse("off") == {"translation": 0.0, "cutout": 0.0}
    assert DiffAugment.parse("translation,cutout") == {"translation": 1 / 16, "cutout": 1 / 4}
    assert DiffAugment.parse("cutout=0.5") == {"translation": 0.0, "cutout": 0.5}
    assert DiffAugment.spec(1 / 16, 0.0) == "translation=0.0625"
    assert DiffAugment.spec(0.0, 0.0) == "off"
    for bad, message in (("color", "Unknown DiffAugment transform 'color'"),
                         ("cutout=big", "needs a number"), ("translation=1.5", "must be in")):
        with pytest.raises(ValueError, match=message):
            DiffAugment.parse(bad)


def test_weight_schedules():
    values = lambda spec: [float(WeightSchedule(spec)(s)) for s in (0, 10, 15, 20, 30)]  # noqa: E731
    assert values("constant") == [1, 1, 1, 1, 1]
    assert values("linear:10:10") == [1, 1, 0.5, 0, 0]
    np.testing.assert_allclose(values("cosine:10:10"), [1, 1, 0.5, 0, 0], atol=1e-7)
    assert values("linear:10:0") == [1, 0, 0, 0, 0]  # a step down at HOLD
    assert WeightSchedule("cosine:5:7").spec == "cosine:5:7"
    for bad in ("linear", "linear:a:3", "cubic:1:2", "constant:3", "linear:-1:3"):
        with pytest.raises(ValueError, match="[Ss]chedule"):
            WeightSchedule(bad)


def test_paired_distances_hand_computed():
    fake = tf.constant([[[[0.0, 1.0, -1.0]]]])
    real = tf.constant([[[[1.0, 1.0, 1.0]]]])
    assert float(losses.paired_pixel_loss(fake, real)) == pytest.approx(1.0)  # (1 + 0 + 2) / 3
    assert float(losses.paired_pixel_loss(fake, real, power=2)) == pytest.approx(5 / 3)
    with pytest.raises(ValueError, match="power"):
        losses.paired_pixel_loss(fake, real, power=3)
    a = tf.constant([[3.0, 4.0], [1.0, 0.0]])
    b = tf.constant([[6.0, 8.0], [0.0, 2.0]])
    # Same direction: 0; orthogonal unit vectors: |(1, 0) − (0, 1)|² = 2; mean 1.
    assert float(losses.paired_feature_loss(a, b)) == pytest.approx(1.0, abs=1e-6)


def test_the_pixel_distances_over_latent_copies():
    real = tf.constant(np.linspace(-1, 1, 2 * 2 * 2 * 3, dtype="float32").reshape(2, 2, 2, 3))
    fakes = tf.concat([real + 0.5, real - 1.0], axis=0)  # copy 0 then copy 1 of 2 captions
    inputs = TermInputs(fakes, {}, {}, {"image": real}, tf.constant(2), 2, {})
    # The mean over the copies of each copy's distance to the captions' images.
    assert float(PairedImageTerm(1.0, distance="pixel")(None, inputs)) == \
        pytest.approx((0.5 + 1.0) / 2)
    assert float(PairedImageTerm(1.0, distance="pixel_mse")(None, inputs)) == \
        pytest.approx((0.25 + 1.0) / 2)
    with pytest.raises(ValueError, match="paired distance"):
        PairedImageTerm(1.0, distance="l2")


def twin(gan_class, text_encoder, **options):
    """A model with ``options`` and its twin without them, with the same weights."""
    with_options = gan_class(text_encoder, image_size=16, nf=4, **options)
    plain = gan_class(text_encoder, image_size=16, nf=4,
                      image_encoder=options.get("image_encoder"))
    plain.set_weights(with_options.get_weights())
    for gan in (with_options, plain):
        gan.compile()
    return with_options, plain


def test_the_paired_term_adds_its_scheduled_weight_times_the_distance(text_encoder, batch):
    gan, plain = twin(kt.models.DFGAN, text_encoder, paired_weight=3.0,
                      paired_schedule="linear:0:10")
    assert [repr(t) for t in gan.loss_terms] == [
        "PairedImageTerm(weight=3, schedule='linear:0:10', distance='pixel')"]
    gan.g_optimizer.iterations.assign(5)  # factor 0.5
    values, base = gan.test_step(batch), plain.test_step(batch)
    assert float(values["paired"]) > 0
    np.testing.assert_allclose(float(values["g_loss"]) - float(base["g_loss"]),
                               1.5 * float(values["paired"]), rtol=1e-5)
    restored = kt.models.DFGAN.from_config(gan.get_config())
    assert (restored.paired_weight, restored.paired_schedule, restored.paired_distance) == \
        (3.0, "linear:0:10", "pixel")


def test_a_paired_term_at_factor_zero_is_exactly_the_old_step(text_encoder, batch):
    gan, plain = twin(kt.models.DFGAN, text_encoder, paired_weight=5.0,
                      paired_schedule="linear:0:0", diffaugment="off")
    for _ in range(2):
        gan.train_step(batch)
        plain.train_step(batch)
    for a, b in zip(gan.get_weights(), plain.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert gan.augmenter is None and gan.diffaugment == "off"


def test_features_distance_needs_and_uses_the_image_encoder(text_encoder, batch):
    with pytest.raises(ValueError, match="needs the DAMSM image encoder"):
        kt.models.DFGAN(text_encoder, image_size=16, nf=4, paired_weight=1.0,
                        paired_distance="features")
    assert kt.models.DFGAN.needs_image_encoder(paired_weight=1.0, paired_distance="features")
    assert not kt.models.DFGAN.needs_image_encoder(paired_weight=1.0)
    assert not kt.models.DFGAN.needs_image_encoder(paired_weight=0.0, paired_distance="features")
    encoder = DAMSMImageEncoder(feature_dim=16, width=4, input_size=16)
    gan, plain = twin(kt.models.DFGAN, text_encoder, paired_weight=2.0,
                      paired_distance="features", image_encoder=encoder)
    term = gan.loss_terms[0]
    assert isinstance(term, PairedImageTerm)
    # Identical images are at distance 0; other images are not.
    image = batch["image"]
    assert float(term._distance(gan, image, image)) == pytest.approx(0.0, abs=1e-6)
    assert float(term._distance(gan, tf.roll(image, 1, axis=0), image)) > 0
    values, base = gan.test_step(batch), plain.test_step(batch)
    np.testing.assert_allclose(float(values["g_loss"]) - float(base["g_loss"]),
                               2.0 * float(values["paired"]), rtol=1e-5)


def test_diffaugment_feeds_the_discriminators_augmented_images_only(text_encoder, batch,
                                                                    monkeypatch):
    gan = kt.models.DFGAN(text_encoder, image_size=16, nf=4, paired_weight=1.0,
                          diffaugment="translation=0.125,cutout=0.25")
    gan.compile()
    seen = {}
    d_losses, g_losses, add_terms = (gan.discriminator_losses, gan.generator_losses,
                                     gan._add_terms)

    def spy_d(batch_, text, generated, fake_text, training=True):
        seen["d_real"], seen["d_fake"] = batch_["image"], generated["images"][-1]
        return d_losses(batch_, text, generated, fake_text, training)

    def spy_g(batch_, text, generated, fake_text, latents, training=True):
        seen["g_fake"] = generated["images"][-1]
        return g_losses(batch_, text, generated, fake_text, latents, training)

    def spy_terms(g_values, batch_, generated, *args):
        seen["term_real"], seen["term_fake"] = batch_["image"], generated["images"][-1]
        return add_terms(g_values, batch_, generated, *args)

    monkeypatch.setattr(gan, "discriminator_losses", spy_d)
    monkeypatch.setattr(gan, "generator_losses", spy_g)
    monkeypatch.setattr(gan, "_add_terms", spy_terms)
    gan.train_step(batch)
    real = batch["image"].numpy()
    np.testing.assert_array_equal(seen["term_real"].numpy(), real)  # the terms see clean images
    assert not np.array_equal(seen["d_real"].numpy(), real)
    for key in ("d_real", "d_fake", "g_fake"):  # a 4-pixel square of zeros in every image
        zeros = (seen[key].numpy() == 0).all(axis=-1).sum(axis=(1, 2))
        assert (zeros >= 4).all(), (key, zeros)
    assert not np.array_equal(seen["g_fake"].numpy(), seen["term_fake"].numpy())
    restored = kt.models.DFGAN.from_config(gan.get_config())
    assert restored.diffaugment == "translation=0.125,cutout=0.25"
    assert (restored.augmenter.translation, restored.augmenter.cutout) == (0.125, 0.25)


def test_bad_options_are_named(text_encoder):
    for options, message in (({"paired_weight": -1}, "paired_weight must be >= 0"),
                             ({"paired_schedule": "soon"}, "Unknown schedule 'soon'"),
                             ({"paired_distance": "lpips"}, "paired_distance must be one of"),
                             ({"diffaugment": "colour"}, "Unknown DiffAugment transform")):
        with pytest.raises(ValueError, match=message):
            kt.models.DFGAN.check_options(**options)
        with pytest.raises(ValueError, match=message):
            kt.models.DFGAN(text_encoder, image_size=16, nf=4, **options)


def test_projected_heads_score_by_projection():
    heads = ProjectedDiscriminator([(8, 8, 3), (4, 4, 5)], cond_dim=6, width=4, embed_dim=3)
    # Head 0 halves 8×8 to 4×4 once (4 → 8 channels); head 1 is at 4×4 already.
    assert [len(blocks) for blocks in heads.downs] == [1, 0]
    assert heads.embeds[0].kernel.shape == (4 * 4 * 8, 3)
    assert heads.embeds[1].kernel.shape == (4 * 4 * 4, 3)
    # The channel mixing is random and fixed (the paper's CCM); everything else trains.
    assert all(not m.trainable for m in heads.mixers)
    trained = {v.path for v in heads.trainable_variables}
    # Head 0: down (kernel, bias), embed, out, sentence (kernel); head 1: no down.
    assert not any("ccm" in path for path in trained) and len(trained) == 7 + 5
    features = [_normal(2, 8, 8, 3), _normal(2, 4, 4, 5)]
    sentence = _normal(2, 6)
    logits = heads(features, sentence).numpy()
    assert logits.shape == (2, 2) and logits.dtype == np.float32
    for k, phi in enumerate(heads.embed(features)):
        phi = phi.numpy()
        w, b = (v.numpy() for v in heads.outs[k].weights)
        p = heads.projections[k].kernel.numpy()
        expected = phi @ w[:, 0] + b[0] + (phi * (sentence.numpy() @ p)).sum(-1) / np.sqrt(3)
        np.testing.assert_allclose(logits[:, k], expected, rtol=1e-5, atol=1e-6)
    # The sentence matters: another sentence gives other logits from the same embeddings.
    assert not np.allclose(heads(features, tf.roll(sentence, 1, axis=0)).numpy(), logits)
    with pytest.raises(ValueError, match="has 2 heads, got 1 feature maps"):
        heads([features[0]], sentence)


def _normal(*shape):
    return tf.constant(np.random.default_rng(len(shape)).normal(size=shape).astype("float32"))


@pytest.fixture(scope="module")
def image_encoder():
    return DAMSMImageEncoder(feature_dim=16, width=4, input_size=16)


def projected_twin(text_encoder, image_encoder, **options):
    """A DF-GAN with a projected discriminator and the same DF-GAN without one, sharing the
    generator's and the DF-GAN discriminator's weights."""
    gan = kt.models.DFGAN(text_encoder, image_size=16, nf=4, image_encoder=image_encoder,
                          **options)
    plain = kt.models.DFGAN(text_encoder, image_size=16, nf=4, image_encoder=image_encoder)
    plain.generator.set_weights(gan.generator.get_weights())
    plain.discriminator.set_weights(gan.discriminator.get_weights())
    for model in (gan, plain):
        model.compile()
    return gan, plain


def test_the_projected_discriminator_adds_its_losses(text_encoder, image_encoder, batch):
    gan, plain = projected_twin(text_encoder, image_encoder, projected_weight=0.5)
    heads = gan.projected_discriminator
    # It reads the encoder's three maps of a 16×16 image: 4×4×8, 2×2×16, 1×1×32.
    assert heads.feature_shapes == [(4, 4, 8), (2, 2, 16), (1, 1, 32)]
    assert "projected_discriminator" in gan.networks()
    assert heads not in gan.discriminators  # the family's hooks never see it
    values, base = gan.test_step(batch), plain.test_step(batch)
    # By hand: hinge on real pairs, ½ fakes, ½ real images with the previous row's sentence.
    text = gan.encode_text(batch["tokens"])
    real = heads(gan._feature_maps(batch["image"]), text["sentence"]).numpy()
    mismatched = heads(gan._feature_maps(batch["image"]),
                       tf.roll(text["sentence"], 1, axis=0)).numpy()
    assert real.shape == (4, 3)
    hinge = lambda x: np.maximum(0.0, x).mean()  # noqa: E731
    expected_real = hinge(1 - real) + 0.5 * hinge(1 + mismatched)
    assert float(values["projected_d"]) > expected_real  # plus ½ of the fakes' hinge
    np.testing.assert_allclose(float(values["d_loss"]) - float(base["d_loss"]),
                               float(values["projected_d"]), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(float(values["g_loss"]) - float(base["g_loss"]),
                               0.5 * float(values["projected_g"]), rtol=1e-5, atol=1e-6)


def test_the_projected_discriminator_trains_and_the_encoder_stays(text_encoder, image_encoder,
                                                                  batch):
    gan, plain = projected_twin(text_encoder, image_encoder, projected_weight=1.0,
                                diffaugment="translation,cutout")
    encoder_before = [w.copy() for w in image_encoder.get_weights()]
    heads_before = [v.numpy().copy() for v in gan.projected_discriminator.weights]
    gan.train_step(batch)
    plain.train_step(batch)
    heads_after = [v.numpy() for v in gan.projected_discriminator.weights]
    for variable, before, after in zip(gan.projected_discriminator.weights, heads_before,
                                       heads_after, strict=True):
        # The heads' kernels move; the fixed channel mixing does not. (The output biases may
        # not: at the first step every hinge is active, and their gradient −1 + ½ + ½ is 0.)
        if "ccm" in variable.path:
            np.testing.assert_array_equal(before, after)
        elif "kernel" in variable.path:
            assert not np.array_equal(before, after), variable.path
    for before, after in zip(encoder_before, image_encoder.get_weights(), strict=True):
        np.testing.assert_array_equal(before, after)
    # Its gradient reaches the generator: the same first step, another generator.
    assert any(not np.allclose(a, b) for a, b in zip(gan.generator.get_weights(),
                                                     plain.generator.get_weights()))


def test_the_projected_discriminator_needs_the_encoder_and_round_trips(text_encoder,
                                                                       image_encoder, batch,
                                                                       tmp_path):
    with pytest.raises(ValueError, match="projected_weight > 0 needs the DAMSM image encoder"):
        kt.models.DFGAN(text_encoder, image_size=16, nf=4, projected_weight=1.0)
    with pytest.raises(ValueError, match="projected_weight must be >= 0"):
        kt.models.DFGAN.check_options(projected_weight=-1)
    assert kt.models.DFGAN.needs_image_encoder(projected_weight=1.0)
    assert kt.models.DFGAN(text_encoder, image_size=16, nf=4).projected_discriminator is None
    gan, _ = projected_twin(text_encoder, image_encoder, projected_weight=2.0)
    gan.train_step(batch)
    loaded = kt.models.DFGAN.from_preset(gan.save_to_preset(tmp_path / "saved"))
    assert loaded.projected_weight == 2.0
    for a, b in zip(gan.projected_discriminator.get_weights(),
                    loaded.projected_discriminator.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_the_encoders_give_the_projected_heads_three_maps():
    from keras_t2i.text.damsm import ARCHITECTURE_ONLY

    cnn = DAMSMImageEncoder(feature_dim=16, width=4, input_size=64)
    assert cnn.feature_maps_model().output_shape == [(None, 16, 16, 8), (None, 8, 8, 16),
                                                     (None, 4, 4, 32)]
    inception = DAMSMImageEncoder(backbone="inception_v3", backbone_weights=ARCHITECTURE_ONLY)
    shapes = [tuple(s[1:]) for s in inception.feature_maps_model().output_shape]
    assert shapes == [(35, 35, 288), (17, 17, 768), (8, 8, 2048)]
    heads = ProjectedDiscriminator(shapes, cond_dim=256)
    assert [len(blocks) for blocks in heads.downs] == [4, 3, 1]  # 35 → 18 → 9 → 5 → 3, …
