"""The base model: roles, latents from seeds with optional truncation, compile, presets."""

import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_t2i as kt
from keras_t2i.models.base import NOISE_STREAM, noise_from_seeds
from keras_t2i.text.damsm import DAMSMImageEncoder, DAMSMTextEncoder, load_encoders


@pytest.fixture(scope="module")
def text_encoder():
    return DAMSMTextEncoder(kt.data.caption_tokenizer("shapes", max_objects=1), embedding_dim=8,
                            units=8)


def test_roles_give_the_networks_the_batch_keys_and_the_frozen_modules(text_encoder):
    image_encoder = DAMSMImageEncoder(feature_dim=16, width=4, input_size=16)
    gan = kt.models.DFGAN(text_encoder, image_size=16, nf=4, ema_decay=0.5, damsm_weight=1.0,
                          image_encoder=image_encoder)
    assert list(gan.networks()) == ["generator", "discriminator", "generator_ema"]
    assert gan.discriminators == [gan.discriminator]
    assert gan.frozen_modules() == {"text_encoder": text_encoder, "image_encoder": image_encoder}
    assert not text_encoder.trainable and not image_encoder.trainable
    assert gan.batch_keys == ("image", "tokens", "class_id")
    assert kt.models.DFGAN(text_encoder, image_size=16, nf=4).batch_keys == ("image", "tokens")
    assert gan.latent_dims() == {"noise": 100}
    gan.compile()
    with pytest.raises(ValueError, match="trains on batches with"):
        gan.train_step({"image": tf.zeros((2, 16, 16, 3)), "tokens": tf.ones((2, 5), "int32")})


def test_compile_takes_one_optimizer_per_role_and_the_familys_defaults(text_encoder):
    gan = kt.models.DFGAN(text_encoder, image_size=16, nf=4)
    with pytest.raises(ValueError, match="g_optimizer= and d_optimizer="):
        gan.compile(optimizer="adam")
    gan.compile()
    # DF-GAN's reference: Adam G 1e-4, D 4e-4, betas (0, 0.9), PyTorch's epsilon 1e-8.
    for optimizer, rate in ((gan.g_optimizer, 1e-4), (gan.d_optimizer, 4e-4)):
        assert isinstance(optimizer, keras.optimizers.Adam)
        assert float(optimizer.learning_rate) == pytest.approx(rate)
        assert (optimizer.beta_1, optimizer.beta_2, optimizer.epsilon) == (0.0, 0.9, 1e-8)
    own = keras.optimizers.SGD(0.1)
    gan.compile(g_optimizer=own)
    assert gan.g_optimizer is own and isinstance(gan.d_optimizer, keras.optimizers.Adam)


def test_latents_come_from_the_seed_each_from_its_own_stream():
    seeds = tf.constant([3, 4, 3], tf.int64)
    noise = noise_from_seeds(seeds, 50).numpy()
    np.testing.assert_array_equal(noise[0], noise[2])
    assert not np.allclose(noise[0], noise[1])
    other = noise_from_seeds(seeds, 50, stream=NOISE_STREAM + 1).numpy()
    assert not np.allclose(other[0], noise[0])
    truncated = noise_from_seeds(tf.range(200, dtype=tf.int64), 50, truncation=0.88).numpy()
    assert np.abs(truncated).max() <= 2 * 0.88 + 1e-6
    assert np.abs(noise_from_seeds(tf.range(200, dtype=tf.int64), 50).numpy()).max() > 2.5
    np.testing.assert_array_equal(noise_from_seeds(seeds, 50, truncation=0.88).numpy(),
                                  noise_from_seeds(seeds, 50, truncation=0.88).numpy())


def test_generate_with_truncation_is_deterministic_and_differs(text_encoder):
    gan = kt.models.DFGAN(text_encoder, image_size=16, nf=4)
    caption = ["a big red circle in the center"]
    plain = gan.generate(caption, seeds=[1])
    truncated = gan.generate(caption, seeds=[1], truncation=0.5)
    np.testing.assert_array_equal(truncated, gan.generate(caption, seeds=[1], truncation=0.5))
    assert not np.array_equal(plain, truncated)
    stages = gan.generate_stages(caption, seeds=[1])
    assert len(stages) == 1
    np.testing.assert_array_equal(stages[-1], plain)


def test_named_presets_need_their_encoders(text_encoder):
    with pytest.raises(ValueError, match="needs a pretrained text encoder"):
        kt.models.DFGAN.from_preset("dfgan_cub_256")
    with pytest.raises(ValueError, match="Unknown DFGAN preset 'nope'"):
        kt.models.DFGAN.from_preset("nope", text_encoder)
    with pytest.raises(ValueError, match="image_encoder"):  # the quickstart's DAMSM loss
        kt.models.from_preset("dfgan_shapes_64", text_encoder)
    gan = kt.models.from_preset("dfgan_cub_256", text_encoder, image_size=16, nf=4)
    assert isinstance(gan, kt.models.DFGAN) and gan.image_size == 16 and gan.nf == 4


def test_save_to_preset_then_from_preset_alone(encoder_dir, tmp_path):
    text_encoder, image_encoder = load_encoders(encoder_dir)
    gan = kt.models.DFGAN.from_preset("dfgan_shapes_64", text_encoder,
                                      image_encoder=image_encoder, image_size=16, nf=4,
                                      ema_decay=0.5)
    gan.compile()
    data = kt.data.load("shapes", "train", image_size=16, batch_size=4, max_objects=1,
                        tokenizer=text_encoder.tokenizer).take(2)
    with pytest.raises(ValueError, match="never fitted"):  # the preset whitens its condition
        gan.fit(data, epochs=1, verbose=0)
    assert gan.adapt_condition(data) == 8
    gan.fit(data, epochs=1, verbose=0)
    directory = gan.save_to_preset(tmp_path / "preset", metadata={"note": "test"})
    for name in ("config.json", "model.weights.h5", "vocabulary.txt", "metadata.json",
                 "text_encoder.keras", "image_encoder.keras"):
        assert (directory / name).is_file(), name
    assert (directory / "vocabulary.txt").read_text().split() == list(
        text_encoder.tokenizer.vocabulary)
    loaded = kt.models.from_preset(directory)
    assert isinstance(loaded, kt.models.DFGAN) and loaded.damsm_weight == 1.0
    captions = ["a big red circle in the center", "a small blue square on the left"]
    np.testing.assert_array_equal(loaded.generate(captions, seed=4),
                                  gan.generate(captions, seed=4))
    for a, b in zip(loaded.generator.get_weights(), gan.generator.get_weights()):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="loads as it was saved"):
        kt.models.DFGAN.from_preset(directory, text_encoder)
    assert load_encoders(directory)[0].get_config() == text_encoder.get_config()
    np.save(tmp_path / "expected.npy", gan.generate(captions, seed=4))
    # The same in a fresh process, with nothing but the directory.
    script = textwrap.dedent(f"""
        import numpy as np
        import keras_t2i as kt
        gan = kt.models.from_preset({str(directory)!r})
        images = gan.generate({captions!r}, seed=4)
        np.testing.assert_array_equal(images, np.load({str(tmp_path / "expected.npy")!r}))
        print("PRESET OK", type(gan).__name__)
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=300)
    assert "PRESET OK DFGAN" in result.stdout, result.stderr[-3000:]
