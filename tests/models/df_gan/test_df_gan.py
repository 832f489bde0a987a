import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_t2i as kt
from keras_t2i import losses
from keras_t2i.models.base import noise_from_seeds, to_uint8
from keras_t2i.models.df_gan import DFGANDiscriminator, DFGANGenerator
from keras_t2i.models.df_gan.df_gan_discriminator import discriminator_channels
from keras_t2i.models.df_gan.df_gan_generator import generator_channels
from keras_t2i.text.damsm import DAMSMImageEncoder, DAMSMTextEncoder


@pytest.fixture(scope="module")
def text_encoder():
    tok = kt.data.caption_tokenizer("shapes", max_objects=1)
    return DAMSMTextEncoder(tok, embedding_dim=8, units=8)


def shapes_batch(tok, n=8, size=16, distinct=None):
    ds = kt.data.load("shapes", "test", image_size=size, batch_size=distinct or n,
                      num_scenes=distinct or n, tokenizer=tok, max_objects=1)
    batch = next(iter(ds))
    batch = {k: batch[k] for k in ("image", "tokens", "class_id")}
    if distinct:  # the global batch holds the same examples twice
        batch = {k: tf.concat([v] * (n // distinct), axis=0) for k, v in batch.items()}
    return batch


def test_channel_rule_of_the_cvpr22_code():
    assert [i // 32 for i, _ in generator_channels(256, 32)] == [8, 8, 8, 8, 4, 2]
    assert generator_channels(64, 32)[-1] == (64, 32) and len(generator_channels(64, 32)) == 4
    assert [o // 32 for _, o in discriminator_channels(256, 32)] == [2, 4, 8, 8, 8, 8]
    assert len(generator_channels(128, 32)) == 5
    with pytest.raises(ValueError, match="power-of-two"):
        generator_channels(100, 32)


@pytest.mark.parametrize("size", [64, 128, 256])
def test_generator_and_discriminator_shapes_and_range(size):
    g = DFGANGenerator(size, nf=4, noise_dim=10, cond_dim=6)
    d = DFGANDiscriminator(size, nf=4, cond_dim=6)
    z = np.random.default_rng(0).normal(size=(2, 10)).astype("float32")
    e = np.random.default_rng(1).normal(size=(2, 6)).astype("float32")
    images = g(z, e).numpy()
    assert images.shape == (2, size, size, 3)
    assert images.min() >= -1 and images.max() <= 1 and images.std() > 0
    assert d(images, e).shape == (2,)
    assert d.features(images).shape == (2, 4, 4, 32)


def test_networks_serialise(tmp_path):
    g = DFGANGenerator(16, nf=4, noise_dim=10, cond_dim=6)
    z, e = np.ones((1, 10), "float32"), np.ones((1, 6), "float32")
    g.save(tmp_path / "g.keras")
    np.testing.assert_allclose(keras.saving.load_model(tmp_path / "g.keras")(z, e), g(z, e),
                               atol=1e-6)


def test_one_train_step_changes_both_networks(text_encoder):
    gan = kt.models.DFGAN(text_encoder, image_size=16, nf=4)
    gan.compile()
    g_before = [w.numpy().copy() for w in gan.generator.trainable_weights]
    d_before = [w.numpy().copy() for w in gan.discriminator.trainable_weights]
    e_before = [w.numpy().copy() for w in text_encoder.weights]
    logs = gan.train_step(shapes_batch(text_encoder.tokenizer))
    assert set(logs) == {"d_loss", "g_loss", "ma_gp", "d_real", "d_fake", "d_mismatch"}
    assert all(np.isfinite(float(v)) for v in logs.values())
    assert any(not np.allclose(b, w) for b, w in zip(g_before, gan.generator.trainable_weights))
    assert any(not np.allclose(b, w) for b, w in
               zip(d_before, gan.discriminator.trainable_weights))
    for b, w in zip(e_before, text_encoder.weights):
        np.testing.assert_array_equal(b, w.numpy())  # the text encoder stays frozen


def test_mode_seeking_is_tracked(text_encoder):
    gan = kt.models.DFGAN(text_encoder, image_size=16, nf=4, mode_seeking=1.0)
    gan.compile()
    logs = gan.train_step(shapes_batch(text_encoder.tokenizer))
    assert "ms" in logs and float(logs["ms"]) > 0


@pytest.fixture(scope="module")
def image_encoder():
    return DAMSMImageEncoder(feature_dim=16, width=4, input_size=16)


def test_damsm_loss_on_the_generator(text_encoder, image_encoder):
    with pytest.raises(ValueError, match="image_encoder"):
        kt.models.DFGAN(text_encoder, image_size=16, nf=4, damsm_weight=1.0)
    gan = kt.models.DFGAN(text_encoder, image_size=16, nf=4, damsm_weight=2.0,
                          image_encoder=image_encoder)
    gan.compile()
    batch = shapes_batch(text_encoder.tokenizer)
    text = gan.encode_text(batch["tokens"])
    images = batch["image"]
    # L_DAMSM is the sum of the word- and sentence-level losses on the image encoder's reading,
    # with the pairs of one class left out of each other's softmax.
    class_ids = batch["class_id"]
    regions, image_global = image_encoder(images)
    want = (sum(losses.damsm_word_loss(text["words"], tf.reshape(regions, (8, -1, 16)),
                                       text["word_mask"], class_ids))
            + sum(losses.damsm_sentence_loss(text["sentence"], image_global, class_ids)))
    np.testing.assert_allclose(gan.damsm_loss(images, text, class_ids), want, rtol=1e-5)
    assert gan.batch_keys == ("image", "tokens", "class_id")
    values = gan._add_terms({"g_loss": tf.constant(1.0)}, batch, {"images": [images]}, text,
                            {}, 8)
    np.testing.assert_allclose(values["damsm"], want, rtol=1e-5)
    np.testing.assert_allclose(values["g_loss"], 1.0 + 2.0 * values["damsm"], rtol=1e-6)
    # With mode seeking every caption is in the batch twice and each copy is scored alone:
    # a batch of exact duplicates scores as the batch itself.
    both = kt.models.DFGAN(text_encoder, image_size=16, nf=4, damsm_weight=2.0,
                           mode_seeking=1.0, image_encoder=image_encoder)
    assert both.copies == 2 and [t.name for t in both.loss_terms] == ["ms", "damsm"]
    twice = {k: tf.concat([v, v], axis=0) for k, v in text.items()}
    doubled = both._add_terms({"g_loss": tf.constant(1.0)}, batch,
                              {"images": [tf.concat([images, images], 0)]}, twice,
                              {"noise": tf.random.normal((16, 100))}, 8)
    np.testing.assert_allclose(doubled["damsm"], want, rtol=1e-5)
    e_before = [w.numpy().copy() for w in image_encoder.weights]
    logs = gan.train_step(batch)
    assert "damsm" in logs and np.isfinite(float(logs["damsm"])) and float(logs["damsm"]) > 0
    for b, w in zip(e_before, image_encoder.weights):
        np.testing.assert_array_equal(b, w.numpy())  # the image encoder stays frozen


def mean_pairwise_distance(images):
    x = images.astype(np.float32).reshape(len(images), -1)
    return float(np.mean([np.abs(a - b).mean() for i, a in enumerate(x) for b in x[i + 1:]]))


def test_mode_seeking_makes_outputs_of_one_caption_more_diverse(text_encoder):
    data = tf.data.Dataset.from_tensors(shapes_batch(text_encoder.tokenizer, n=8)).repeat(30)
    diversity = {}
    for weight in (0.0, 1.0):
        keras.utils.set_random_seed(1)  # same initial weights, same noise stream
        gan = kt.models.DFGAN(text_encoder, image_size=16, nf=4, mode_seeking=weight)
        # A G learning rate of 1e-3 makes 30 steps enough (seeds 1-3 gave ratios of 5-36).
        gan.compile(g_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.0, beta_2=0.9))
        gan.fit(data, epochs=1, verbose=0, shuffle=False)
        images = gan.generate(["a big red circle in the center"] * 8, seeds=range(8))
        diversity[weight] = mean_pairwise_distance(images)
    assert diversity[1.0] > 2 * diversity[0.0], diversity


def test_ema_generator_averages_the_generator_and_generates(text_encoder):
    gan = kt.models.DFGAN(text_encoder, image_size=16, nf=4, ema_decay=0.75)
    gan.compile(g_optimizer=keras.optimizers.SGD(0.1), d_optimizer=keras.optimizers.SGD(0.1))
    before = gan.generator.get_weights()
    for a, b in zip(before, gan.generator_ema.get_weights()):
        np.testing.assert_array_equal(a, b)  # starts as a copy
    gan.train_step(shapes_batch(text_encoder.tokenizer))
    after = gan.generator.get_weights()
    assert any(not np.allclose(a, b) for a, b in zip(before, after))
    for old, new, ema in zip(before, after, gan.generator_ema.get_weights()):
        np.testing.assert_allclose(ema, 0.75 * old + 0.25 * new, rtol=1e-5, atol=1e-7)
    assert gan.generator_ema.trainable_weights == []
    # generate runs the EMA copy, not the trained generator
    caption = ["a big red circle in the center"]
    noise = noise_from_seeds([5], 100)
    sentence = text_encoder(text_encoder.tokenizer(tf.constant(caption)))[1]
    np.testing.assert_array_equal(gan.generate(caption, seeds=[5]),
                                  to_uint8(gan.generator_ema(noise, sentence)).numpy())
    assert not np.array_equal(gan.generate(caption, seeds=[5]),
                              to_uint8(gan.generator(noise, sentence)).numpy())
    with pytest.raises(ValueError, match="ema_decay"):
        kt.models.DFGAN(text_encoder, image_size=16, nf=4, ema_decay=1.0)


def test_generate_is_deterministic_per_caption_and_seed(text_encoder):
    gan = kt.models.DFGAN(text_encoder, image_size=16, nf=4)
    a = gan.generate(["a big red circle in the center", "a small blue square"], seed=3)
    assert a.dtype == np.uint8 and a.shape == (2, 16, 16, 3)
    b = gan.generate(["a small blue square"], seeds=[4])
    np.testing.assert_array_equal(a[1], b[0])  # independent of the rest of the batch
    c = gan.generate(["a small blue square"], seeds=[5])
    assert not np.array_equal(b, c)
    with pytest.raises(ValueError, match="empty"):
        gan.generate(["a red circle", "  "])
    with pytest.raises(ValueError, match="max_batch"):
        gan.generate(["a red circle"] * 65)


def test_save_and_load_round_trip(text_encoder, image_encoder, tmp_path):
    gan = kt.models.DFGAN(text_encoder, image_size=16, nf=4, mode_seeking=0.5, ema_decay=0.9,
                          damsm_weight=0.5, image_encoder=image_encoder)
    gan.compile()
    gan.train_step(shapes_batch(text_encoder.tokenizer))
    path = tmp_path / "dfgan.keras"
    gan.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, kt.models.DFGAN) and loaded.mode_seeking == 0.5
    assert loaded.damsm_weight == 0.5 and not loaded.image_encoder.trainable
    for a, b in zip(loaded.image_encoder.get_weights(), image_encoder.get_weights()):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(loaded.generator_ema.get_weights(), gan.generator_ema.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert float(loaded.d_optimizer.learning_rate) == pytest.approx(4e-4)  # recompiled
    captions = ["a big red circle in the center"]
    np.testing.assert_array_equal(loaded.generate(captions, seed=1), gan.generate(captions, seed=1))


@pytest.mark.parametrize("options", [{}, {"projected_weight": 1.0}], ids=["plain", "projected"])
def test_mirrored_strategy_matches_one_device_on_the_first_step(text_encoder, options,
                                                                mirrored_strategy):
    batch = shapes_batch(text_encoder.tokenizer, n=8, distinct=4)
    data = tf.data.Dataset.from_tensors(batch)
    if options:  # the projected discriminator reads the DAMSM image encoder's maps
        options = {**options, "image_encoder": DAMSMImageEncoder(feature_dim=16, width=4,
                                                                 input_size=16)}

    single = kt.models.DFGAN(text_encoder, image_size=16, nf=4, ema_decay=0.5, **options)
    weights = single.get_weights()
    sgd = {"g_optimizer": keras.optimizers.SGD(0.05), "d_optimizer": keras.optimizers.SGD(0.05)}
    single.compile(**sgd)  # SGD: Adam's first step would hide a wrongly scaled loss
    expected = single.fit(data, epochs=1, verbose=0, shuffle=False).history

    strategy = mirrored_strategy
    with strategy.scope():
        mirrored = kt.models.DFGAN(text_encoder, image_size=16, nf=4, ema_decay=0.5, **options)
        mirrored.set_weights(weights)
        mirrored.compile(g_optimizer=keras.optimizers.SGD(0.05),
                         d_optimizer=keras.optimizers.SGD(0.05))
    got = mirrored.fit(data, epochs=1, verbose=0, shuffle=False).history
    for name in expected:
        assert got[name][0] == pytest.approx(expected[name][0], rel=1e-4, abs=1e-5), name
    for a, b in zip(single.get_weights(), mirrored.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_biases_start_as_pytorchs():
    """Linear/Conv biases U(±1/√fan_in), as torch's defaults (Keras starts them at 0); the
    Affine output layers keep their explicit identity start."""
    g = DFGANGenerator(16, nf=4, noise_dim=10, cond_dim=6)
    d = DFGANDiscriminator(16, nf=4, cond_dim=6)
    checked = 0
    for layer in [*g._flatten_layers(), *d._flatten_layers()]:
        bias = getattr(layer, "bias", None)
        if bias is None or layer.name in ("gamma_out", "beta_out"):
            continue
        fan_in = int(np.prod(layer.kernel.shape[:-1]))
        values = bias.numpy()
        assert np.abs(values).max() <= 1 / np.sqrt(fan_in) + 1e-7, layer.name
        assert np.abs(values).max() > 0.1 / np.sqrt(fan_in), layer.name  # not zeros
        checked += 1
    assert checked >= 10
    affine = next(x for x in g._flatten_layers() if x.name == "affine_0")
    np.testing.assert_array_equal(affine.gamma_out.bias.numpy(), 1.0)
    np.testing.assert_array_equal(affine.beta_out.bias.numpy(), 0.0)


def test_one_step_computes_the_papers_losses_and_scores_fakes_with_the_updated_d(text_encoder):
    """train_step's d_loss is hinge(real) + ½(hinge(fake) + hinge(mismatched)) + MA-GP,
    recomputed here from the networks; its g_loss is −D(G(z, e), e) with D after its step."""
    gan = kt.models.DFGAN(text_encoder, image_size=16, nf=4)
    gan.compile(g_optimizer=keras.optimizers.SGD(0.5), d_optimizer=keras.optimizers.SGD(0.5))
    batch = shapes_batch(text_encoder.tokenizer)
    noise = tf.random.stateless_normal((8, 100), seed=[1, 2])
    gan.sample_latents = lambda n: {"noise": noise[:n]}
    sentence = gan.encode_text(batch["tokens"])["sentence"]
    images = tf.convert_to_tensor(batch["image"])
    g_before = [w.numpy() for w in gan.generator.weights]

    fake = gan.generator(noise, sentence)
    d = gan.discriminator
    real_logits = d(images, sentence).numpy()
    fake_logits = d(fake, sentence).numpy()
    mismatched = d.logits(tf.roll(d.features(images), -1, axis=0), sentence).numpy()
    with tf.GradientTape() as tape:
        tape.watch([images, sentence])
        total = tf.reduce_sum(d(images, sentence))
    grad_x, grad_e = tape.gradient(total, [images, sentence])
    norms = np.sqrt((grad_x.numpy().reshape(8, -1) ** 2).sum(1) + (grad_e.numpy() ** 2).sum(1))
    ma_gp = 2.0 * np.mean(norms ** 6)
    hinge = (np.maximum(0, 1 - real_logits).mean()
             + 0.5 * (np.maximum(0, 1 + fake_logits).mean()
                      + np.maximum(0, 1 + mismatched).mean()))

    logs = gan.train_step(batch)
    assert float(logs["ma_gp"]) == pytest.approx(ma_gp, rel=1e-3)
    assert float(logs["d_loss"]) == pytest.approx(hinge + ma_gp, rel=1e-4)
    # The G step scored the fakes of the old G with the new D.
    trained_g = [w.numpy() for w in gan.generator.weights]
    gan.generator.set_weights(g_before)
    old_fake = gan.generator(noise, sentence)
    want = -float(np.mean(d(old_fake, sentence).numpy()))
    assert float(logs["g_loss"]) == pytest.approx(want, rel=1e-4, abs=1e-6)
    gan.generator.set_weights(trained_g)
    assert any(not np.allclose(a, b) for a, b in zip(g_before, trained_g))
    # ...and not with the D of before its step (which scored the fakes differently).
    assert not np.isclose(want, -float(np.mean(fake_logits)), rtol=1e-3)


# Parameter counts of the official classes (tobran/DF-GAN @78f14fd, cfg nf 32, z 100, cond 256),
# read on 2026-12-02 by ../shared/bench/peer_dfgan.py: NetG, and NetD + NetC.
OFFICIAL_COUNTS = {64: (4_868_867, 3_210_820 + 295_936), 256: (9_744_131, 6_619_206 + 295_936)}


@pytest.mark.parametrize("size", [64, 256])
def test_parameter_counts_equal_the_official_classes(size):
    """G exactly; D less the official D_Block's 1×1 ``conv_s`` of blocks with fin == fout,
    which it creates but never runs (``learned_shortcut`` is False): dead parameters, left
    out here (``DownBlock`` has no shortcut conv when in == out)."""
    g = DFGANGenerator(size, nf=32, noise_dim=100, cond_dim=256)
    d = DFGANDiscriminator(size, nf=32, cond_dim=256)
    official_g, official_d = OFFICIAL_COUNTS[size]
    assert g.count_params() == official_g
    unused = sum(i * o + o for i, o in discriminator_channels(size, 32) if i == o)
    assert unused == {64: 65_792, 256: 3 * 65_792}[size]
    assert d.count_params() == official_d - unused
