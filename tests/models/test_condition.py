"""The text condition of the base model (``condition``, ``condition_whitening``,
``condition_rank``): the ZCA layer and its canonical projection by hand, what
``encode_text`` gives, every family's generator and discriminators reading it, the
statistics' fitting, saving, checkpointing and export."""

import numpy as np
import pytest
import tensorflow as tf
from harness import run_call_checks

import keras_t2i as kt
from keras_t2i.layers import ZCAWhitening
from keras_t2i.text.damsm import DAMSMTextEncoder
from keras_t2i.training.checkpoint import gan_checkpoint

RNG = np.random.default_rng(7)


@pytest.fixture(scope="module")
def text_encoder():
    return DAMSMTextEncoder(kt.data.caption_tokenizer("shapes", max_objects=3), embedding_dim=8,
                            units=8)


def shapes_batch(text_encoder, size, **options):
    ds = kt.data.load("shapes", "test", image_size=size, batch_size=4, num_scenes=4,
                      tokenizer=text_encoder.tokenizer, **options)
    return {k: v for k, v in next(iter(ds)).items() if k in ("image", "tokens", "class_id")}


def captions(text_encoder, count=64):
    ds = kt.data.load("shapes", "train", image_size=16, batch_size=count, max_objects=1,
                      tokenizer=text_encoder.tokenizer, sampling_seed=0)
    return next(iter(ds))["tokens"]


# -- the layer ---------------------------------------------------------------------------
def test_zca_of_independent_axes_divides_by_the_floored_deviations():
    # Axes with variances 4 and 1 (exactly, by construction), means 3 and −1.
    x = np.array([[5.0, -1.0], [1.0, -1.0], [3.0, 0.0], [3.0, -2.0]])
    x = np.concatenate([x, x])  # 8 rows: sample covariance diag(16/7, 4/7)
    layer = ZCAWhitening(2, epsilon=0.25)
    layer.adapt(x)
    variances = np.array([16 / 7, 4 / 7])
    floor = 0.25 * variances.max()
    np.testing.assert_allclose(layer.mean.numpy(), [3.0, -1.0], rtol=1e-6)
    np.testing.assert_allclose(layer.matrix.numpy(), np.diag(1 / np.sqrt(variances + floor)),
                               rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(layer(x).numpy(), (x - [3.0, -1.0]) / np.sqrt(variances + floor),
                               rtol=1e-5, atol=1e-6)
    assert layer.is_adapted


def test_zca_whitens_correlated_vectors_and_stays_symmetric():
    x = RNG.normal(size=(2000, 6)) @ RNG.normal(size=(6, 6)) + RNG.normal(size=6)
    layer = ZCAWhitening(6, epsilon=1e-9)
    assert not layer.is_adapted
    layer.adapt(x)
    y = layer(x).numpy()
    np.testing.assert_allclose(np.cov(y, rowvar=False), np.eye(6), atol=1e-3)
    np.testing.assert_allclose(y.mean(axis=0), 0.0, atol=1e-4)
    matrix = layer.matrix.numpy()
    np.testing.assert_allclose(matrix, matrix.T, rtol=1e-4, atol=1e-6)  # ZCA, not PCA
    run_call_checks(layer, (tf.constant(x[:3], tf.float32),), ((3, 6), "float32"))


def test_zca_names_bad_input():
    with pytest.raises(ValueError, match="epsilon > 0"):
        ZCAWhitening(4, epsilon=0.0)
    layer = ZCAWhitening(4)
    with pytest.raises(ValueError, match=r"shape \(N, 4\), got \(10, 3\)"):
        layer.adapt(np.zeros((10, 3)))
    with pytest.raises(ValueError, match="at least 2 vectors"):
        layer.adapt(np.zeros((1, 4)))
    with pytest.raises(ValueError, match="non-finite"):
        layer.adapt(np.full((3, 4), np.nan))


def test_rank_keeps_the_whitened_directions_that_predict_the_targets():
    # Axis 0 of x drives the targets' first value; axes 1-3 are noise the targets never see.
    n = 4000
    signal = RNG.normal(size=n)
    x = np.stack([2.0 * signal, *RNG.normal(size=(3, n))], axis=1) + [1.0, 2.0, 3.0, 4.0]
    y = np.stack([signal + 0.5 * RNG.normal(size=n), RNG.normal(size=n)], axis=1)
    layer = ZCAWhitening(4, epsilon=1e-9, rank=1, target_epsilon=1e-9)
    (correlation,) = layer.adapt(x, y)
    # The one canonical correlation is corr(x0, y0) = 1/√1.25 for this construction.
    assert correlation == pytest.approx(1 / np.sqrt(1.25), abs=0.02)
    out = layer(x).numpy()
    # Rank one: every output is the whitened x projected on one direction, here axis 0.
    assert np.linalg.matrix_rank(np.cov(out, rowvar=False), tol=1e-3) == 1
    direction = np.linalg.svd(layer.matrix.numpy())[2][0]
    assert abs(direction[0]) == pytest.approx(1.0, abs=0.01)
    # What is kept is the signal, at the whitened scale (unit variance).
    kept = out @ direction
    assert abs(np.corrcoef(kept, signal)[0, 1]) > 0.999
    assert kept.std() == pytest.approx(1.0, abs=0.01)
    # Full rank is the whitening itself.
    full = ZCAWhitening(4, epsilon=1e-9, rank=2, target_epsilon=1e-9)
    assert len(full.adapt(x, y)) == 2
    assert ZCAWhitening.from_config(layer.get_config()).rank == 1


def test_rank_names_bad_input():
    x, y = RNG.normal(size=(10, 4)), RNG.normal(size=(10, 3))
    with pytest.raises(ValueError, match=r"rank in \[0, dim=4\], got 5"):
        ZCAWhitening(4, rank=5)
    with pytest.raises(ValueError, match="target_epsilon > 0"):
        ZCAWhitening(4, rank=1, target_epsilon=0.0)
    with pytest.raises(ValueError, match="needs the targets"):
        ZCAWhitening(4, rank=2).adapt(x)
    with pytest.raises(ValueError, match="10 vectors but 9 targets"):
        ZCAWhitening(4, rank=2).adapt(x, y[:9])
    with pytest.raises(ValueError, match="at least 4 values each, got 3"):
        ZCAWhitening(4, rank=4).adapt(x, y)
    with pytest.raises(ValueError, match="rank is 0"):
        ZCAWhitening(4).adapt(x, y)


# -- encode_text -------------------------------------------------------------------------
def test_the_default_condition_is_the_sentence(text_encoder):
    gan = kt.models.DFGAN(text_encoder, image_size=16, nf=4)
    text = gan.encode_text(captions(text_encoder, 8))
    np.testing.assert_array_equal(text["condition"].numpy(), text["sentence"].numpy())
    assert gan.condition_whitener is None and "condition_whitening" not in gan.networks()


def test_words_mean_averages_the_caption_tokens_then_whitens(text_encoder):
    tokens = captions(text_encoder, 8)
    words, sentence = (t.numpy() for t in text_encoder(tokens, training=False))
    mask = tokens.numpy() != 0
    by_hand = np.stack([w[m].mean(axis=0) for w, m in zip(words, mask)])
    gan = kt.models.DFGAN(text_encoder, image_size=16, nf=4, condition="words_mean")
    text = gan.encode_text(tokens)
    np.testing.assert_allclose(text["condition"].numpy(), by_hand, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(text["sentence"].numpy(), sentence)  # the DAMSM loss's
    whitened = kt.models.DFGAN(text_encoder, image_size=16, nf=4, condition="words_mean",
                               condition_whitening=1e-3)
    assert whitened.adapt_condition([captions(text_encoder, 64)]) == 64
    layer = whitened.condition_whitener
    np.testing.assert_allclose(whitened.encode_text(tokens)["condition"].numpy(),
                               (by_hand - layer.mean.numpy()) @ layer.matrix.numpy(),
                               rtol=1e-4, atol=1e-5)


def test_bad_condition_options_are_named(text_encoder):
    for options, message in (({"condition": "tokens"}, "condition must be one of"),
                             ({"condition_whitening": -1}, "condition_whitening must be >= 0")):
        with pytest.raises(ValueError, match=message):
            kt.models.DFGAN.check_options(**options)
        with pytest.raises(ValueError, match=message):
            kt.models.DFGAN(text_encoder, image_size=16, nf=4, **options)
    plain = kt.models.DFGAN(text_encoder, image_size=16, nf=4)
    with pytest.raises(ValueError, match="condition_whitening=0"):
        plain.adapt_condition([captions(text_encoder, 8)])
    for options, message in (({"condition_rank": 4}, "needs condition_whitening > 0"),
                             ({"condition_rank": -1, "condition_whitening": 1e-4},
                              "condition_rank must be an integer >= 0"),
                             ({"condition_rank": 2.5, "condition_whitening": 1e-4},
                              "condition_rank must be an integer >= 0")):
        with pytest.raises(ValueError, match=message):
            kt.models.DFGAN.check_options(**options)
        with pytest.raises(ValueError, match=message):
            kt.models.DFGAN(text_encoder, image_size=16, nf=4, **options)
    wide = kt.models.DFGAN(text_encoder, image_size=16, nf=4, condition_whitening=1e-4,
                           condition_rank=text_encoder.feature_dim + 1)
    assert wide.condition_whitener.rank == text_encoder.feature_dim  # every direction
    ranked = kt.models.DFGAN(text_encoder, image_size=16, nf=4, condition_whitening=1e-4,
                             condition_rank=4)
    with pytest.raises(ValueError, match='batches with "tokens" and "image"'):
        ranked.adapt_condition([captions(text_encoder, 8)])


def test_rank_fits_the_condition_to_the_captions_images(text_encoder):
    """``adapt_condition`` correlates the whitened word mean with the batch's images at
    CONDITION_TARGET_SIZE pixels, as the layer would from the same pairs."""
    from keras_t2i.models.base import CONDITION_TARGET_SIZE

    ds = kt.data.load("shapes", "train", image_size=32, batch_size=64, max_objects=1,
                      tokenizer=text_encoder.tokenizer, sampling_seed=0)
    batches = list(ds.take(2))
    gan = kt.models.DFGAN(text_encoder, image_size=16, nf=4, condition="words_mean",
                          condition_whitening=1e-4, condition_rank=3)
    assert gan.adapt_condition(batches) == 128
    images = np.concatenate([b["image"].numpy() for b in batches])
    targets = tf.image.resize(images, (CONDITION_TARGET_SIZE,) * 2, antialias=True).numpy()
    assert gan.condition_targets(images).shape == (128, CONDITION_TARGET_SIZE ** 2 * 3)
    np.testing.assert_allclose(gan.condition_targets(images), targets.reshape(128, -1),
                               atol=1e-6)
    plain = kt.models.DFGAN(text_encoder, image_size=16, nf=4, condition="words_mean")
    vectors = np.concatenate([plain.encode_text(b["tokens"])["condition"].numpy()
                              for b in batches])
    layer = ZCAWhitening(text_encoder.feature_dim, 1e-4, rank=3)
    layer.adapt(vectors, targets.reshape(128, -1))
    np.testing.assert_allclose(gan.condition_whitener.matrix.numpy(), layer.matrix.numpy(),
                               rtol=1e-4, atol=1e-5)
    assert np.linalg.matrix_rank(layer.matrix.numpy(), tol=1e-4) == 3
    assert gan.get_config()["condition_rank"] == 3


# -- every family reads the condition ------------------------------------------------------
FAMILIES = {
    "dfgan": (lambda te: kt.models.DFGAN(te, image_size=16, nf=4), 16, {"max_objects": 1}),
    "dmgan": (lambda te: kt.models.DMGAN(te, image_size=64, stages=2, gf_dim=4, df_dim=4,
                                         r_num=1), 64, {"max_objects": 1}),
    "mirrorgan": (lambda te: kt.models.MirrorGAN(te, None, stream_weight=0.0, image_size=64,
                                                 stages=2, gf_dim=4, df_dim=4, r_num=1),
                  64, {"max_objects": 1}),
    "memorygan": (lambda te: kt.models.MemoryGAN(te, image_size=32, nf=4, num_parts=3,
                                                 part_dim=4, query_dim=8, feature_channels=4),
                  32, {"min_objects": 2, "max_objects": 3}),
}


@pytest.mark.parametrize("family", list(FAMILIES))
def test_generator_and_discriminators_read_the_condition(text_encoder, family):
    make, size, options = FAMILIES[family]
    gan = make(text_encoder)
    gan.compile()
    # Off the initial weights, where some text paths start at zero (DF-GAN's affine γ, β).
    for v in gan.generator.trainable_variables + gan.discriminator_variables:
        v.assign(v + 0.05 * tf.random.normal(v.shape, seed=1))
    batch = shapes_batch(text_encoder, size, **options)
    text = gan.encode_text(batch["tokens"])
    # The same words and sentence, another condition: the other rows' conditions.
    other = {**text, "condition": tf.roll(text["condition"], 1, axis=0)}
    latents = gan.latents_from_seeds(np.arange(4))
    generated = gan.generate_images(latents, text, training=False)
    moved = gan.generate_images(latents, other, training=False)
    assert not np.allclose(gan.final_images(generated).numpy(),
                           gan.final_images(moved).numpy())
    d_values = gan.discriminator_losses(batch, text, generated, text, training=False)
    d_other = gan.discriminator_losses(batch, other, generated, other, training=False)
    assert float(d_values["d_loss"]) != pytest.approx(float(d_other["d_loss"]), rel=1e-6)
    g_values = gan.generator_losses(batch, text, generated, text, latents, training=False)
    g_other = gan.generator_losses(batch, other, generated, other, latents, training=False)
    assert float(g_values["g_loss"]) != pytest.approx(float(g_other["g_loss"]), rel=1e-6)


# -- fitting, saving, checkpoints, export ----------------------------------------------------
def whitened_gan(text_encoder):
    gan = kt.models.DFGAN(text_encoder, image_size=16, nf=4, condition="words_mean",
                          condition_whitening=1e-4)
    gan.compile()
    return gan


def test_fit_refuses_statistics_never_fitted(text_encoder):
    gan = whitened_gan(text_encoder)
    data = tf.data.Dataset.from_tensors(shapes_batch(text_encoder, 16, max_objects=1))
    with pytest.raises(ValueError, match="never fitted: call model.adapt_condition"):
        gan.fit(data, epochs=1, verbose=0)
    gan.adapt_condition(data)
    gan.fit(data, epochs=1, verbose=0)
    assert int(gan.g_optimizer.iterations.numpy()) == 1


def test_the_statistics_are_saved_checkpointed_and_exported(text_encoder, tmp_path):
    from keras_t2i.export import export_saved_model
    from keras_t2i.serving import LocalModel

    gan = whitened_gan(text_encoder)
    gan.adapt_condition([captions(text_encoder, 64)])
    layer = gan.condition_whitener
    assert np.abs(layer.matrix.numpy()).sum() > 0
    prompts, seeds = ["a big red circle in the center", "a small blue star on the left"], [1, 2]
    images = gan.generate(prompts, seeds=seeds)

    loaded = kt.models.DFGAN.from_preset(gan.save_to_preset(tmp_path / "saved"))
    assert (loaded.condition, loaded.condition_whitening) == ("words_mean", 1e-4)
    np.testing.assert_array_equal(loaded.condition_whitener.matrix.numpy(), layer.matrix.numpy())
    np.testing.assert_array_equal(loaded.generate(prompts, seeds=seeds), images)

    path = gan_checkpoint(gan).save(str(tmp_path / "ckpt"))
    fresh = whitened_gan(text_encoder)
    gan_checkpoint(fresh).restore(path).assert_consumed()
    assert fresh.condition_whitener.is_adapted
    np.testing.assert_array_equal(fresh.condition_whitener.mean.numpy(), layer.mean.numpy())

    export_saved_model(gan, tmp_path / "sm")
    np.testing.assert_array_equal(LocalModel(tmp_path / "sm").generate(prompts, seeds), images)
