import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_t2i as kt
from keras_t2i.models.df_gan_networks import (
    DFGANDiscriminator,
    DFGANGenerator,
    discriminator_channels,
    generator_channels,
)
from keras_t2i.text.damsm import DAMSMTextEncoder


@pytest.fixture(scope="module")
def text_encoder():
    tok = kt.data.caption_tokenizer("shapes", max_objects=1)
    return DAMSMTextEncoder(tok, embedding_dim=8, units=8)


def shapes_batch(tok, n=8, size=16, distinct=None):
    ds = kt.data.load("shapes", "test", image_size=size, batch_size=distinct or n,
                      num_scenes=distinct or n, tokenizer=tok, max_objects=1)
    batch = next(iter(ds))
    batch = {"image": batch["image"], "tokens": batch["tokens"]}
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


def test_save_and_load_round_trip(text_encoder, tmp_path):
    gan = kt.models.DFGAN(text_encoder, image_size=16, nf=4, mode_seeking=0.5)
    gan.compile()
    gan.train_step(shapes_batch(text_encoder.tokenizer))
    path = tmp_path / "dfgan.keras"
    gan.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, kt.models.DFGAN) and loaded.mode_seeking == 0.5
    assert float(loaded.d_optimizer.learning_rate) == pytest.approx(4e-4)  # recompiled
    captions = ["a big red circle in the center"]
    np.testing.assert_array_equal(loaded.generate(captions, seed=1), gan.generate(captions, seed=1))


def test_mirrored_strategy_matches_one_device_on_the_first_step(text_encoder):
    batch = shapes_batch(text_encoder.tokenizer, n=8, distinct=4)
    data = tf.data.Dataset.from_tensors(batch)

    single = kt.models.DFGAN(text_encoder, image_size=16, nf=4)
    weights = single.get_weights()
    single.compile()
    expected = single.fit(data, epochs=1, verbose=0, shuffle=False).history

    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    assert strategy.num_replicas_in_sync == 2
    with strategy.scope():
        mirrored = kt.models.DFGAN(text_encoder, image_size=16, nf=4)
        mirrored.set_weights(weights)
        mirrored.compile()
    got = mirrored.fit(data, epochs=1, verbose=0, shuffle=False).history
    for name in expected:
        assert got[name][0] == pytest.approx(expected[name][0], rel=1e-4, abs=1e-5), name
    for a, b in zip(single.generator.get_weights(), mirrored.generator.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
