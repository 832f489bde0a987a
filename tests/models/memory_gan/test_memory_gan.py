"""MemoryGAN and its multi-generator baseline: the query-and-feedback loop's dependencies, the
masks, latents per part from the seed, growing K, the baseline's parameters, one training
step with every regulariser, distribution, serialisation and export."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_t2i as kt
from keras_t2i import losses
from keras_t2i.models.memory_gan import MemoryGANGenerator, PartQueryRNN
from keras_t2i.text.damsm import DAMSMTextEncoder

RNG = np.random.default_rng(0)
A = "a big red circle on the left and a small blue square on the right"
B = "a big green star at the top and a small white cross at the bottom"


def normal(*shape):
    return tf.constant(RNG.normal(size=shape).astype("float32"))


def count(network):
    return sum(int(np.prod(v.shape)) for v in network.trainable_variables)


@pytest.fixture(scope="module")
def text_encoder():
    return DAMSMTextEncoder(kt.data.caption_tokenizer("shapes", max_objects=3), embedding_dim=8,
                            units=8)


@pytest.fixture(scope="module")
def batch(text_encoder):
    ds = kt.data.load("shapes", "test", image_size=32, batch_size=4, num_scenes=4,
                      tokenizer=text_encoder.tokenizer, min_objects=2, max_objects=3)
    return {k: v for k, v in next(iter(ds)).items() if k in ("image", "tokens", "class_id")}


def tiny(text_encoder, cls=kt.models.MemoryGAN, **options):
    return cls(text_encoder, image_size=32, nf=4, num_parts=3, part_dim=4, query_dim=8,
               feature_channels=4, **options)


# -- the query-and-feedback loop -------------------------------------------------------------
def _text(text_encoder, captions):
    tokens = text_encoder.tokenizer(tf.constant(captions))
    words, sentence = text_encoder(tokens)
    return words, sentence, tf.not_equal(tokens, 0)


@pytest.mark.parametrize("feedback", [True, False])
def test_query_k_depends_on_what_the_memory_drew_before_it_and_nothing_after(text_encoder,
                                                                            feedback):
    generator = MemoryGANGenerator(32, nf=4, noise_dim=5, part_dim=4, cond_dim=16,
                                   query_dim=8, feature_channels=4, rnn_units=6,
                                   feedback_dim=5, feedback=feedback)
    rnn, memory = generator.rnn, generator.memory
    words, sentence, mask = _text(text_encoder, [A, B])
    noise, parts = normal(2, 5), normal(2, 4, 4)

    def run(changed_part=None):
        state = rnn.initial_state(sentence, noise)
        feedback_k = rnn.initial_feedback(2)
        queries = []
        for k in range(4):
            query, state, _ = rnn(state, parts[:, k], words, mask, feedback_k)
            features, logit = memory(query)
            if k == changed_part:  # the memory returns something else for part k
                features, logit = features + 1.0, logit - 2.0
            feedback_k = rnn.encode_feedback(features, logit)
            queries.append(query.numpy())
        return queries

    base = run()
    # The loop above is the generator's own.
    for mine, its in zip(base, generator.queries(noise, parts, sentence, words, mask)[0],
                         strict=True):
        np.testing.assert_allclose(mine, its.numpy(), rtol=1e-6, atol=1e-6)
    changed = run(changed_part=1)
    for k in (0, 1):
        np.testing.assert_array_equal(changed[k], base[k])
    for k in (2, 3):
        assert np.abs(changed[k] - base[k]).max() > 1e-4 if feedback else \
            np.array_equal(changed[k], base[k]), k


def test_the_word_attention_reads_real_words_only(text_encoder):
    rnn = PartQueryRNN(units=6, query_dim=8, part_dim=4, noise_dim=5, word_dim=16,
                       feature_channels=4, feedback_dim=5)
    rnn.build()
    words, sentence, mask = _text(text_encoder, [A, "a star"])
    state = rnn.initial_state(sentence, normal(2, 5))
    _, _, attention = rnn(state, normal(2, 4), words, mask, rnn.initial_feedback(2))
    np.testing.assert_allclose(attention.numpy().sum(-1), 1.0, rtol=1e-5)
    assert np.all(attention.numpy()[~mask.numpy()] == 0.0)


def test_mask_entropy_is_0_for_one_part_and_1_for_an_even_share():
    one_hot = tf.one_hot(tf.zeros((2, 4, 4), tf.int32), 5)
    assert float(losses.mask_entropy(one_hot)) == pytest.approx(0.0, abs=1e-6)
    assert float(losses.mask_entropy(tf.fill((2, 4, 4, 5), 0.2))) == pytest.approx(1.0)


def test_part_area_excess_charges_only_what_a_part_holds_beyond_the_bound():
    # Part 1 holds the left half of the image, part 2 nothing, the background the rest.
    owner = tf.concat([tf.ones((2, 4, 2), tf.int32), tf.zeros((2, 4, 2), tf.int32)], axis=2)
    masks = tf.one_hot(owner, 3)
    assert float(losses.part_area_excess(masks, 0.5)) == pytest.approx(0.0, abs=1e-7)
    # 0.5 − 0.25 for part 1, 0 for part 2, averaged over the two parts.
    assert float(losses.part_area_excess(masks, 0.25)) == pytest.approx(0.125)
    # The background is free whatever it holds.
    assert float(losses.part_area_excess(tf.one_hot(tf.zeros((2, 4, 4), tf.int32), 3),
                                         0.1)) == 0.0


def test_the_background_logit_sets_the_backgrounds_share():
    from keras_t2i.models.memory_gan import compose

    features, logits = normal(2, 3, 4, 4, 5), tf.zeros((2, 3, 4, 4, 1))
    background = normal(2, 5)
    fused, masks = compose(features, logits, background)
    np.testing.assert_allclose(masks.numpy(), 0.25, rtol=1e-6)  # K + 1 equal pseudo-depths
    _, masks = compose(features, logits, background, background_logit=2.0)
    share = np.exp(2.0) / (np.exp(2.0) + 3)
    np.testing.assert_allclose(masks.numpy()[..., 0], share, rtol=1e-5)
    np.testing.assert_allclose(masks.numpy().sum(-1), 1.0, rtol=1e-5)
    # A background far in front hides every part: the fused map is the background's.
    fused, _ = compose(features, logits, background, background_logit=50.0)
    np.testing.assert_allclose(fused.numpy(), np.broadcast_to(
        background.numpy()[:, None, None], fused.shape), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("cls", [kt.models.MemoryGAN, kt.models.MultiPartGAN])
def test_a_text_free_background_reads_only_the_scene_code(text_encoder, cls):
    gan = tiny(text_encoder, cls, text_background=False, background_logit=50.0)
    assert gan.generator.background.kernel.shape == (100, 4)  # z only, not [z; sentence]
    # With the parts hidden behind it, the image is the background's: the caption cannot
    # change it, the seed can.
    images = gan.generate([A, B], seeds=[3, 3])
    np.testing.assert_array_equal(images[0], images[1])
    assert not np.array_equal(gan.generate([A], seeds=[4])[0], images[0])
    reading = tiny(text_encoder, cls, background_logit=50.0)
    assert reading.generator.background.kernel.shape == (100 + reading.cond_dim, 4)
    images = reading.generate([A, B], seeds=[3, 3])
    assert not np.array_equal(images[0], images[1])


# -- the model -------------------------------------------------------------------------------
@pytest.mark.parametrize("cls", [kt.models.MemoryGAN, kt.models.MultiPartGAN])
def test_images_masks_and_seeds(text_encoder, cls):
    gan = tiny(text_encoder, cls)
    assert list(gan.latent_dims()) == ["noise", "part_0", "part_1", "part_2"]
    images = gan.generate([A, B], seeds=[3, 4])
    masks = gan.generate_masks([A, B], seeds=[3, 4])
    assert images.shape == (2, 32, 32, 3) and images.dtype == np.uint8
    assert masks.shape == (2, 16, 16, 4)  # background + 3 parts, at half the image size
    assert masks.min() >= 0.0
    np.testing.assert_allclose(masks.sum(-1), 1.0, rtol=1e-5)
    # A caption and seed give one image whatever else is in the batch; another seed another.
    np.testing.assert_array_equal(gan.generate([B], seeds=[4])[0], images[1])
    np.testing.assert_array_equal(gan.generate([B, A], seeds=[4, 3]), images[::-1])
    assert not np.array_equal(gan.generate([A], seeds=[5])[0], images[0])


def test_the_baseline_has_k_part_generators_and_memorygan_one(text_encoder):
    memory = tiny(text_encoder)
    multi = tiny(text_encoder, kt.models.MultiPartGAN)
    part = count(memory.generator.memory)
    assert [count(g) for g in multi.generator.part_generators] == [part] * 3
    shared = count(memory.generator) - part - count(memory.generator.rnn)
    assert count(multi.generator) == shared + 3 * part + sum(
        count(q) for q in multi.generator.part_queries)
    assert count(memory.discriminator) == count(multi.discriminator)


def test_memorygan_grows_its_parts_and_the_baseline_cannot(text_encoder):
    gan = tiny(text_encoder)
    grown = gan.with_num_parts(4)
    assert grown.num_parts == 4 and list(grown.latent_dims())[-1] == "part_3"
    assert grown.generate_masks([A], seeds=[1]).shape == (1, 16, 16, 5)
    # The first parts keep their codes: the grown model's latents extend the trained ones'.
    small, large = gan.latents_from_seeds([7]), grown.latents_from_seeds([7])
    for name in small:
        np.testing.assert_array_equal(small[name].numpy(), large[name].numpy())
    multi = tiny(text_encoder, kt.models.MultiPartGAN)
    assert multi.with_num_parts(3) is multi
    with pytest.raises(ValueError, match="one generator per part"):
        multi.with_num_parts(4)


@pytest.mark.parametrize("cls", [kt.models.MemoryGAN, kt.models.MultiPartGAN])
def test_one_step_trains_g_and_d_with_every_regulariser(text_encoder, batch, cls):
    gan = tiny(text_encoder, cls, mode_seeking=1.0, mask_entropy_weight=0.5,
               part_area_weight=1.0, max_part_area=0.05)
    gan.compile()
    g_before = [v.numpy().copy() for v in gan.generator.trainable_variables]
    d_before = [v.numpy().copy() for v in gan.discriminator.trainable_variables]
    logs = gan.train_step(batch)
    for name in ("d_loss", "g_loss", "ma_gp", "ms", "mask_entropy", "part_area"):
        assert np.isfinite(float(logs[name])), name
    assert 0.0 < float(logs["mask_entropy"]) <= 1.0
    # The parts start with about 1/(K + 1) of the image each, above the bound of 0.05.
    assert 0.0 < float(logs["part_area"]) < 1.0
    # Every network of the generator learns (each part generator, the RNN or the static
    # queries, the renderer, the background); single variables may not on the first step (the
    # DF-Blocks' hidden affine layers feed output layers that start at zero).
    moved = {}
    for a, v in zip(g_before, gan.generator.trainable_variables):
        network = "/".join(v.path.split("/")[:2])
        moved[network] = moved.get(network, False) or not np.array_equal(a, v.numpy())
    assert len(moved) >= 4 and all(moved.values()), moved
    assert any(not np.array_equal(a, v.numpy())
               for a, v in zip(d_before, gan.discriminator.trainable_variables))


def test_mirrored_first_step_agrees_with_one_device(text_encoder, batch, mirrored_strategy):
    """Two replicas on a global batch of the same four scenes twice (so each replica's
    mismatched pairs are the whole batch's): the same losses and weights as one device."""
    data = tf.data.Dataset.from_tensors({k: tf.concat([batch[k]] * 2, axis=0)
                                         for k in ("image", "tokens")})
    sgd = lambda: {"g_optimizer": keras.optimizers.SGD(0.05),  # noqa: E731
                   "d_optimizer": keras.optimizers.SGD(0.05)}
    single = tiny(text_encoder, ema_decay=0.5)
    weights = single.get_weights()
    single.compile(**sgd())
    expected = single.fit(data, epochs=1, verbose=0, shuffle=False).history
    with mirrored_strategy.scope():
        mirrored = tiny(text_encoder, ema_decay=0.5)
        mirrored.set_weights(weights)
        mirrored.compile(**sgd())
    got = mirrored.fit(data, epochs=1, verbose=0, shuffle=False).history
    for name in expected:
        assert got[name][0] == pytest.approx(expected[name][0], rel=1e-4, abs=1e-5), name
    for a, b in zip(single.get_weights(), mirrored.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("cls", [kt.models.MemoryGAN, kt.models.MultiPartGAN])
def test_round_trips_and_options(text_encoder, batch, tmp_path, cls):
    gan = tiny(text_encoder, cls, ema_decay=0.9)
    gan.compile()
    gan.train_step(batch)
    loaded = kt.models.from_preset(gan.save_to_preset(tmp_path / "saved"))
    assert type(loaded) is cls and loaded.num_parts == 3
    for a, b in zip(gan.get_weights(), loaded.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(gan.generate([A], seed=5), loaded.generate([A], seed=5))
    assert kt.models.registry.family_of(loaded).model_class is cls
    for options, message in (({"num_parts": 0}, "num_parts must be >= 1"),
                             ({"mask_entropy_weight": -1}, "mask_entropy_weight must be >= 0"),
                             ({"part_area_weight": -1}, "part_area_weight must be >= 0"),
                             ({"max_part_area": 0}, r"max_part_area must be in \(0, 1\]")):
        with pytest.raises(ValueError, match=message):
            cls.check_options(image_size=32, **options)
    no_feedback = tiny(text_encoder, feedback=False)
    assert not no_feedback.generator.rnn.feedback
    objects = tiny(text_encoder, cls, text_background=False, background_logit=2.0,
                   part_area_weight=3.0, max_part_area=0.2)
    loaded = kt.models.from_preset(objects.save_to_preset(tmp_path / "objects"))
    assert not loaded.generator.text_background and loaded.generator.background_logit == 2.0
    assert (loaded.part_area_weight, loaded.max_part_area) == (3.0, 0.2)
    np.testing.assert_array_equal(objects.generate([A], seed=5), loaded.generate([A], seed=5))


def test_the_exported_model_follows_caption_and_seed(text_encoder, tmp_path):
    from keras_t2i.export import export_saved_model
    from keras_t2i.serving import LocalModel

    gan = tiny(text_encoder, max_batch=4)
    gan.compile()
    directory = export_saved_model(gan, tmp_path / "sm", preset="test",
                                   data={"name": "shapes",
                                         "options": {"min_objects": 2, "max_objects": 3},
                                         "image_size": 32})
    model = LocalModel(tmp_path / "sm")
    assert directory.name == "1"
    images = model.generate([A, B], [9, 9])
    np.testing.assert_array_equal(images, gan.generate([A, B], seeds=[9, 9]))
    np.testing.assert_array_equal(model.generate([B], [9])[0], images[1])
    assert not np.array_equal(model.generate([A], [10])[0], images[0])
