"""DM-GAN: the memory against a NumPy transcription of its equations, CA and the losses on
hand-computed values, spectral normalisation, the official parameter counts, one training
step, distribution, serialisation and export."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_t2i as kt
from keras_t2i import losses
from keras_t2i.layers import ConditioningAugmentation
from keras_t2i.layers.spectral import SpectralConv2D
from keras_t2i.models.cascade import StageDiscriminator, stage_sizes
from keras_t2i.models.dm_gan import DMGANGenerator, DynamicMemory, MemoryRefinementStage
from keras_t2i.text.damsm import DAMSMImageEncoder, DAMSMTextEncoder

RNG = np.random.default_rng(0)


def normal(*shape, scale=1.0):
    return (scale * RNG.normal(size=shape)).astype("float32")


def count(network):
    return sum(int(np.prod(v.shape)) for v in network.trainable_variables)


@pytest.fixture(scope="module")
def text_encoder():
    return DAMSMTextEncoder(kt.data.caption_tokenizer("shapes", max_objects=1), embedding_dim=8,
                            units=8)


@pytest.fixture(scope="module")
def batch(text_encoder):
    ds = kt.data.load("shapes", "test", image_size=64, batch_size=4, num_scenes=4,
                      tokenizer=text_encoder.tokenizer, max_objects=1)
    return {k: v for k, v in next(iter(ds)).items() if k in ("image", "tokens", "class_id")}


def tiny(text_encoder, **options):
    return kt.models.DMGAN(text_encoder, image_size=64, stages=2, gf_dim=4, df_dim=4, r_num=1,
                           **options)


# -- the dynamic memory ----------------------------------------------------------------------
def memory_by_hand(layer, features, words, mask, image=None):
    """DM-GAN eq. 1-8 as coded, in NumPy, from the layer's weights (``image``: r̄ given)."""
    def dense(d, x):
        y = x @ d.kernel.numpy()
        return y + d.bias.numpy() if d.use_bias else y

    relu = lambda x: np.maximum(x, 0.0)  # noqa: E731
    sigmoid = lambda x: 1.0 / (1.0 + np.exp(-x))  # noqa: E731
    b, h, w, c = features.shape
    image = features.mean(axis=(1, 2)) if image is None else image       # r̄
    if layer.write_gate:
        gate = sigmoid(dense(layer.gate_words, words) + dense(layer.gate_image, image)[:, None])
    else:
        gate = 0.5
    memory = relu(dense(layer.write_words, words)) * gate + \
        relu(dense(layer.write_image, image))[:, None] * (1 - gate)
    keys, values = relu(dense(layer.key, memory)), relu(dense(layer.value, memory))
    pixels = features.reshape(b, h * w, c)
    scores = np.einsum("bnc,btc->bnt", pixels, keys)
    scores = np.where(mask[:, None, :], scores, -np.inf)
    attention = np.exp(scores - scores.max(-1, keepdims=True))
    attention /= attention.sum(-1, keepdims=True)
    read = attention @ values
    if layer.response_gate:
        kernel = layer.gate_response.kernel.numpy()[0, 0]
        response = sigmoid(np.concatenate([pixels, read], -1) @ kernel
                           + layer.gate_response.bias.numpy())
        refined = read * response + pixels * (1 - response)
    else:
        refined = pixels + read
    return refined.reshape(b, h, w, c), attention


@pytest.mark.parametrize("write_gate,response_gate", [(True, True), (False, True),
                                                      (True, False), (False, False)])
def test_dynamic_memory_is_the_papers_equations(write_gate, response_gate):
    layer = DynamicMemory(4, word_dim=6, write_gate=write_gate, response_gate=response_gate)
    features, words = normal(2, 3, 3, 4), normal(2, 5, 6)
    mask = np.array([[True, True, True, False, False], [True, True, True, True, True]])
    refined, attention = layer(features, words, mask)
    expected, expected_attention = memory_by_hand(layer, features, words, mask)
    np.testing.assert_allclose(attention.numpy(), expected_attention, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(refined.numpy(), expected, rtol=1e-5, atol=1e-5)
    # Padded words get no attention, and change nothing.
    assert np.all(attention.numpy()[0, :, 3:] == 0)
    noisy = words.copy()
    noisy[0, 3:] = 100.0
    np.testing.assert_allclose(layer(features, noisy, mask)[0].numpy()[0], refined.numpy()[0],
                               rtol=1e-5, atol=1e-6)
    # The switches remove the gates' weights (the paper's ablations).
    names = {v.path.split("/")[-2] for v in layer.trainable_variables}
    assert ("gate_words" in names) == write_gate and ("gate_response" in names) == response_gate


def test_r_bar_is_detached_as_in_the_code():
    """The gradient with respect to the features is that of the equations with r̄ held at its
    value (finite differences of the NumPy transcription)."""
    layer = DynamicMemory(3, word_dim=4)
    features = normal(1, 2, 2, 3).astype("float64")
    words, mask = normal(1, 3, 4), np.ones((1, 3), bool)
    probe = normal(1, 2, 2, 3)
    x = tf.constant(features.astype("float32"))
    with tf.GradientTape() as tape:
        tape.watch(x)
        total = tf.reduce_sum(layer(x, words, mask)[0] * probe)
    grads = tape.gradient(total, x).numpy()
    image = features.mean(axis=(1, 2))
    expected = np.zeros_like(features)
    step = 1e-3
    for index in np.ndindex(features.shape):
        shifted = [features.copy(), features.copy()]
        shifted[0][index] += step
        shifted[1][index] -= step
        up, down = (np.sum(memory_by_hand(layer, f, words, mask, image)[0] * probe)
                    for f in shifted)
        expected[index] = (up - down) / (2 * step)
    np.testing.assert_allclose(grads, expected, rtol=2e-2, atol=2e-3)


def test_refinement_stage_without_memory_reads_the_condition_not_the_words():
    stage = MemoryRefinementStage(4, r_num=1, word_dim=6, condition_dim=3, memory=False)
    features, words = normal(2, 8, 8, 4), normal(2, 5, 6)
    mask, condition = np.ones((2, 5), bool), normal(2, 3)
    out, attention = stage(features, words, mask, condition)
    assert out.shape == (2, 16, 16, 4) and attention is None
    np.testing.assert_array_equal(stage(features, 0 * words, mask, condition)[0].numpy(),
                                  out.numpy())
    assert not np.allclose(stage(features, words, mask, 0 * condition)[0].numpy(), out.numpy())


# -- CA, the losses and spectral normalisation -----------------------------------------------
def test_conditioning_augmentation_samples_and_its_kl_has_the_closed_form():
    ca = ConditioningAugmentation(3)
    sentence, epsilon = normal(2, 5), normal(2, 3)
    c, mu, logvar = (x.numpy() for x in ca(sentence, epsilon))
    x = sentence @ ca.fc.kernel.numpy() + ca.fc.bias.numpy()
    glu = x[:, :6] / (1 + np.exp(-x[:, 6:]))
    np.testing.assert_allclose(mu, glu[:, :3], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(logvar, glu[:, 3:], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(c, mu + np.exp(0.5 * logvar) * epsilon, rtol=1e-5, atol=1e-6)
    # μ = (1, 0), log σ² = (0, ln 2): −½·mean(1 + 0 − 1 − 1, 1 + ln 2 − 0 − 2) = (2 − ln 2)/4.
    kl = losses.conditioning_kl_loss(tf.constant([[1.0, 0.0]]), tf.constant([[0.0, np.log(2)]]))
    assert float(kl) == pytest.approx((2 - np.log(2)) / 4, rel=1e-6)
    assert float(losses.conditioning_kl_loss(tf.zeros((2, 3)), tf.zeros((2, 3)))) == 0.0


def test_cascade_losses_hand_computed():
    ln2 = np.log(2.0)
    zeros = tf.zeros((3,))
    # Every logit 0: each BCE is ln 2, so D = (ln2 + ln2)/2 + 3 ln2 / 3 = 2 ln 2, G = 2 ln 2.
    assert float(losses.cascade_discriminator_loss(zeros, zeros, zeros, zeros, zeros[:2])) == \
        pytest.approx(2 * ln2)
    assert float(losses.cascade_generator_loss(zeros, zeros)) == pytest.approx(2 * ln2)
    big = tf.fill((3,), 30.0)  # sure real: BCE(30, 1) ≈ 0, BCE(30, 0) ≈ 30
    value = losses.cascade_discriminator_loss(big, big, -big, -big, big[:2])
    assert float(value) == pytest.approx(30.0 / 3, rel=1e-6)


def test_spectral_conv_divides_by_the_largest_singular_value():
    layer = SpectralConv2D(5, 3, padding="same", kernel_initializer="glorot_normal")
    x = normal(1, 6, 6, 4)
    layer(x, training=True)
    matrix = layer.kernel.numpy().reshape(-1, 5)
    sigma = np.linalg.svd(matrix, compute_uv=False)[0]
    u_before = layer.sn_u.numpy().copy()
    layer(x, training=False)  # inference leaves u alone
    np.testing.assert_array_equal(layer.sn_u.numpy(), u_before)
    for _ in range(50):
        layer(x, training=True)
    normalized = layer.normalized_kernel().numpy().reshape(-1, 5)
    assert np.linalg.svd(normalized, compute_uv=False)[0] == pytest.approx(1.0, rel=1e-3)
    np.testing.assert_allclose(normalized * sigma, matrix, rtol=1e-3, atol=1e-5)
    # The trained variable stays the raw kernel (Keras' wrapper would overwrite it).
    np.testing.assert_array_equal(layer.kernel.numpy().reshape(-1, 5), matrix)
    # The gradient flows through σ too: it is not the gradient with σ held constant.
    with tf.GradientTape() as tape:
        total = tf.reduce_sum(layer(x) ** 2)
    grad = tape.gradient(total, layer.kernel).numpy()
    with tf.GradientTape() as tape:
        kernel = layer.kernel / tf.constant(float(sigma))
        total = tf.reduce_sum(tf.nn.conv2d(x, kernel, 1, "SAME") + layer.bias) ** 2
    assert not np.allclose(grad, tape.gradient(total, layer.kernel).numpy(), rtol=1e-3)


# -- the networks ----------------------------------------------------------------------------
@pytest.mark.slow  # builds the full-size 256×256 networks
def test_parameter_counts_equal_the_official_code():
    """``code/model.py`` with ``cfg/bird_DMGAN.yml`` / ``coco_DMGAN.yml`` (seeds.md §3.5)."""
    g = DMGANGenerator(256, stages=3, gf_dim=64, r_num=2)
    assert count(g) == 21_449_042
    assert (count(g.ca), count(g.initial)) == (102_800, 19_156_736)
    assert [count(s) for s in g.refinements] == [1_092_161] * 2
    assert [count(h) for h in g.heads] == [1_728] * 3
    assert [count(StageDiscriminator(s, ndf=32)) for s in (64, 128, 256)] == \
        [1_878_242, 5_155_810, 18_264_546]
    coco = DMGANGenerator(256, stages=3, gf_dim=64, r_num=3)
    assert count(coco) == 22_335_314 and count(coco.refinements[0]) == 1_535_297


def test_stages_shapes_and_ranges(text_encoder, batch):
    assert stage_sizes(256, 3) == [64, 128, 256] and stage_sizes(64, 2) == [32, 64]
    with pytest.raises(ValueError, match="first stage of at least 32"):
        stage_sizes(64, 3)
    gan = tiny(text_encoder)
    stages = gan.generate_stages(["a small red circle in the center", "a big star"], seed=3)
    assert [s.shape for s in stages] == [(2, 32, 32, 3), (2, 64, 64, 3)]
    assert all(s.dtype == np.uint8 for s in stages)
    text = gan.encode_text(batch["tokens"])
    generated = gan.generate_images(gan.sample_latents(4), text, training=True)
    for images in generated["images"]:
        values = images.numpy()
        assert values.min() >= -1 and values.max() <= 1 and values.dtype == np.float32
    assert generated["attention"][0].shape == (4, 32 * 32, text["words"].shape[1])
    assert list(gan.latent_dims()) == ["noise", "condition"]
    # A seed fixes CA's ε too: same seed, same image; another seed, another image.
    again = gan.generate_stages(["a small red circle in the center", "a big star"], seed=3)
    np.testing.assert_array_equal(again[-1], stages[-1])
    other = gan.generate(["a small red circle in the center"], seed=4)
    assert not np.array_equal(other[0], stages[-1][0])


def test_one_step_trains_g_and_every_d_with_the_papers_losses(text_encoder, batch):
    encoder = DAMSMImageEncoder(feature_dim=16, width=4, input_size=16)
    gan = tiny(text_encoder, image_encoder=encoder, damsm_weight=2.0, kl_weight=1.0)
    gan.compile(g_optimizer=keras.optimizers.SGD(0.1), d_optimizer=keras.optimizers.SGD(0.1))
    before = {name: [w.numpy().copy() for w in net.trainable_weights]
              for name, net in gan.networks().items() if name != "generator_ema"}
    ema_before = [w.numpy().copy() for w in gan.generator_ema.weights]
    values = {k: float(v) for k, v in gan.train_step(batch).items()}
    assert set(values) == {"d_loss", "g_loss", "d_loss_32", "d_loss_64", "g_adv_32",
                           "g_adv_64", "damsm", "kl"}
    assert values["d_loss"] == pytest.approx(values["d_loss_32"] + values["d_loss_64"],
                                             rel=1e-6)
    assert values["g_loss"] == pytest.approx(values["g_adv_32"] + values["g_adv_64"]
                                             + 2.0 * values["damsm"] + values["kl"], rel=1e-5)
    for name, weights in before.items():
        after = gan.networks()[name].trainable_weights
        assert any(not np.allclose(a, b.numpy()) for a, b in zip(weights, after)), name
    # The EMA averages the parameters and copies BatchNorm's statistics.
    for old, ema, live in zip(ema_before, gan.generator_ema.weights, gan.generator.weights):
        if live.trainable:
            np.testing.assert_allclose(ema.numpy(), 0.999 * old + 0.001 * live.numpy(),
                                       rtol=1e-4, atol=1e-6)
        else:
            np.testing.assert_array_equal(ema.numpy(), live.numpy())


def test_mirrored_first_step_agrees_with_one_device(text_encoder, mirrored_strategy):
    """Two replicas on one global batch: the same losses and weights as one device. BatchNorm
    normalises each replica's share (as DataParallel does), so every row is the same scene and
    the latents repeat four draws: each share's statistics and N−1 mismatched pairs
    then average as the whole batch's do, and what is checked is the distribution itself (the
    losses' scaling, the gradients' sum, spectral normalisation's vectors, the EMA under a
    merge call)."""
    ds = kt.data.load("shapes", "test", image_size=64, batch_size=1, num_scenes=1,
                      tokenizer=text_encoder.tokenizer, max_objects=1)
    one = next(iter(ds))
    data = tf.data.Dataset.from_tensors({k: tf.repeat(one[k], 8, axis=0)
                                         for k in ("image", "tokens")})
    latents = {"noise": tf.constant(normal(4, 100)), "condition": tf.constant(normal(4, 100))}

    def fixed_latents(n):  # z₁ … z₄ for each replica's share of 4, twice for the batch of 8
        return {k: tf.tile(v, (n // 4, 1)) for k, v in latents.items()}

    sgd = lambda: {"g_optimizer": keras.optimizers.SGD(0.05),  # noqa: E731
                   "d_optimizer": keras.optimizers.SGD(0.05)}
    single = tiny(text_encoder)
    weights = single.get_weights()
    single.sample_latents = fixed_latents
    single.compile(**sgd())
    expected = single.fit(data, epochs=1, verbose=0, shuffle=False).history
    strategy = mirrored_strategy
    with strategy.scope():
        mirrored = tiny(text_encoder)
        mirrored.set_weights(weights)
        mirrored.sample_latents = fixed_latents
        mirrored.compile(**sgd())
    got = mirrored.fit(data, epochs=1, verbose=0, shuffle=False).history
    for name in expected:
        assert got[name][0] == pytest.approx(expected[name][0], rel=1e-4, abs=1e-5), name
    for a, b in zip(single.get_weights(), mirrored.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_round_trips_and_options(text_encoder, batch, tmp_path):
    gan = tiny(text_encoder, write_gate=False, response_gate=False, mode_seeking=1.0)
    gan.compile()
    gan.train_step(batch)
    loaded = kt.models.from_preset(gan.save_to_preset(tmp_path / "saved"))
    assert isinstance(loaded, kt.models.DMGAN)
    assert (loaded.write_gate, loaded.response_gate, loaded.memory, loaded.stages) == \
        (False, False, True, 2)
    for a, b in zip(gan.get_weights(), loaded.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    captions = ["a small red circle in the center"]
    np.testing.assert_array_equal(gan.generate(captions, seed=5), loaded.generate(captions, seed=5))
    no_memory = tiny(text_encoder, memory=False)
    assert all(not s.memory for s in no_memory.generator.refinements)
    for options, message in (({"stages": 4}, "first stage of at least 32"),
                             ({"gf_dim": 0}, "gf_dim must be >= 1"),
                             ({"kl_weight": -1}, "kl_weight must be >= 0")):
        with pytest.raises(ValueError, match=message):
            kt.models.DMGAN.check_options(image_size=64, **options)


def test_the_exported_model_follows_caption_and_seed(text_encoder, tmp_path):
    from keras_t2i.export import export_saved_model
    from keras_t2i.serving import LocalModel

    gan = tiny(text_encoder, max_batch=4)
    gan.compile()
    # An untrained text encoder's sentences are ~0.01 and an untrained head draws grey: scale
    # CA's input and the heads so that captions and seeds show.
    ca = gan.generator_ema.ca.fc
    ca.kernel.assign(ca.kernel.numpy() * 300.0)
    for head in gan.generator_ema.heads:
        head.conv.kernel.assign(head.conv.kernel.numpy() * 30.0)
    directory = export_saved_model(gan, tmp_path / "sm", preset="test",
                                   data={"name": "shapes", "options": {"max_objects": 1},
                                         "image_size": 64})
    model = LocalModel(tmp_path / "sm")
    assert directory.name == "1"
    a, b = "a small red circle in the center", "a big blue star on the left"
    images = model.generate([a, b], [9, 9])
    np.testing.assert_array_equal(images, gan.generate([a, b], seeds=[9, 9]))
    assert np.abs(images[0].astype(int) - images[1].astype(int)).mean() > 1
    np.testing.assert_array_equal(model.generate([b], [9])[0], images[1])
    assert not np.array_equal(model.generate([a], [10])[0], images[0])
