"""MirrorGAN: GLAM's attention layers against NumPy transcriptions with padded words, the STREAM
captioner's loss, greedy decoding and frozen-ness, the official parameter counts, one training
step, serialisation and export."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_t2i as kt
from keras_t2i import losses
from keras_t2i.layers import WordAttention
from keras_t2i.models.cascade import StageDiscriminator
from keras_t2i.models.mirror_gan import (
    GLAMStage,
    MirrorGANGenerator,
    SentenceAttention,
    STREAMCaptioner,
)
from keras_t2i.text.damsm import DAMSMImageEncoder, DAMSMTextEncoder
from keras_t2i.text.tokenizer import CaptionTokenizer

RNG = np.random.default_rng(0)


def normal(*shape, scale=1.0):
    return (scale * RNG.normal(size=shape)).astype("float32")


def count(network):
    return sum(int(np.prod(v.shape)) for v in network.trainable_variables)


def softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


@pytest.fixture(scope="module")
def text_encoder():
    return DAMSMTextEncoder(kt.data.caption_tokenizer("shapes", max_objects=1), embedding_dim=8,
                            units=8)


@pytest.fixture(scope="module")
def captioner(text_encoder):
    return STREAMCaptioner(text_encoder.tokenizer, feature_dim=8, units=8, width=4,
                           input_size=16)


@pytest.fixture(scope="module")
def batch(text_encoder):
    ds = kt.data.load("shapes", "test", image_size=64, batch_size=4, num_scenes=4,
                      tokenizer=text_encoder.tokenizer, max_objects=1)
    return {k: v for k, v in next(iter(ds)).items() if k in ("image", "tokens", "class_id")}


def tiny(text_encoder, captioner=None, **options):
    return kt.models.MirrorGAN(text_encoder, captioner, image_size=64, stages=2, gf_dim=4,
                               df_dim=4, r_num=1, **options)


# -- GLAM ------------------------------------------------------------------------------------
def test_word_attention_is_a_masked_softmax_over_the_words():
    layer = WordAttention(gf_dim=3, word_dim=5)
    features, words = normal(2, 2, 3, 3), normal(2, 4, 5)
    mask = np.array([[True, True, False, False], [True, True, True, True]])
    context, attention = (t.numpy() for t in layer(features, words, mask))
    keys = words @ layer.project.kernel.numpy()                    # U w: (B, T, gf)
    pixels = features.reshape(2, 6, 3)
    scores = np.where(mask[:, None, :], pixels @ keys.transpose(0, 2, 1), -np.inf)
    expected = softmax(scores)
    np.testing.assert_allclose(attention, expected, rtol=1e-5, atol=1e-6)
    assert np.all(attention[0, :, 2:] == 0)                        # padded words get nothing
    np.testing.assert_allclose(context, (expected @ keys).reshape(2, 2, 3, 3), rtol=1e-5,
                               atol=1e-6)


def test_sentence_attention_is_a_softmax_over_channels():
    layer = SentenceAttention(gf_dim=3, condition_dim=4)
    features, condition = normal(2, 2, 2, 3), normal(2, 4)
    weighted, attention = (t.numpy() for t in layer(features, condition))
    sentence = condition @ layer.project.kernel.numpy() + layer.project.bias.numpy()
    sentence = sentence[:, None, None, :]                          # V ĉ, tiled
    gate = layer.gate.kernel.numpy()[0, 0]                         # the 1×1 conv
    expected = softmax((features * sentence) @ gate, axis=-1)
    np.testing.assert_allclose(attention, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(attention.sum(-1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(weighted, sentence * expected, rtol=1e-5, atol=1e-6)


def test_glam_stage_fuses_both_attentions_and_doubles_the_side():
    stage = GLAMStage(gf_dim=4, r_num=1, word_dim=6, condition_dim=5)
    words, mask = normal(2, 3, 6), np.array([[True, True, False], [True, True, True]])
    out, attention = stage(normal(2, 8, 8, 4), words, mask, normal(2, 5))
    assert out.shape == (2, 16, 16, 4) and attention.shape == (2, 64, 3)
    # The words reach the output: another padded word changes nothing, another real one does.
    features, condition = normal(2, 8, 8, 4), normal(2, 5)
    base = stage(features, words, mask, condition)[0].numpy()
    padded = words.copy()
    padded[0, 2] += 5.0
    np.testing.assert_allclose(stage(features, padded, mask, condition)[0].numpy()[0], base[0],
                               rtol=1e-5, atol=1e-6)
    real = words.copy()
    real[0, 0] += 5.0
    assert not np.allclose(stage(features, real, mask, condition)[0].numpy()[0], base[0])


# -- STREAM ----------------------------------------------------------------------------------
def test_caption_loss_hand_computed():
    tokens = np.array([[3, 4, 0, 0], [2, 3, 4, 5]])
    logits = normal(2, 4, 6)
    log_p = np.log(softmax(logits))
    # Row 0: words 3, 4 and the end target (0) after them; row 1: four words, no room for it.
    picked = [log_p[0, 0, 3], log_p[0, 1, 4], log_p[0, 2, 0],
              log_p[1, 0, 2], log_p[1, 1, 3], log_p[1, 2, 4], log_p[1, 3, 5]]
    assert float(losses.caption_loss(tokens, logits)) == pytest.approx(-np.mean(picked),
                                                                       rel=1e-5)
    exact = np.full((2, 4, 6), -20.0, np.float32)
    for i, row in enumerate(tokens):
        for t, token in enumerate(row):
            exact[i, t, token] = 20.0
    assert float(losses.word_accuracy(tokens, exact)) == 1.0
    exact[1, 3] = exact[1, 3, ::-1]                                # one of six words wrong
    assert float(losses.word_accuracy(tokens, exact)) == pytest.approx(5 / 6)


def test_teacher_forcing_feeds_the_image_then_the_previous_words(captioner, batch):
    images, tokens = batch["image"][:2], batch["tokens"][:2]
    logits = captioner(images, tokens, training=False).numpy()
    assert logits.shape == tokens.shape + (captioner.tokenizer.vocabulary_size(),)
    # Position t reads words < t only: changing the last word changes no logit.
    changed = tokens.numpy().copy()
    changed[:, -1] = 5
    np.testing.assert_allclose(captioner(images, changed, training=False).numpy(), logits,
                               rtol=1e-5, atol=1e-6)
    changed = tokens.numpy().copy()
    changed[:, 0] = 5
    again = captioner(images, changed, training=False).numpy()
    np.testing.assert_allclose(again[:, 0], logits[:, 0], rtol=1e-5, atol=1e-6)
    assert not np.allclose(again[:, 1], logits[:, 1])


def test_greedy_decoding_feeds_back_its_words_and_stops_at_padding(captioner, batch):
    images = batch["image"][:3]
    decoded = captioner.decode(images, max_words=6).numpy()
    feature = captioner.encode(images, training=False).numpy()
    cell = captioner.cell
    w, u = cell.kernel.numpy(), cell.recurrent_kernel.numpy()
    b = cell.bias.numpy() + cell.recurrent_bias.numpy()
    dense_w, dense_b = captioner.classifier.kernel.numpy(), captioner.classifier.bias.numpy()
    table = captioner.embedding.embeddings.numpy()
    sigmoid = lambda x: 1 / (1 + np.exp(-x))  # noqa: E731
    h = c = np.zeros((3, cell.units), np.float32)
    x, expected, ended = feature, [], np.zeros(3, bool)
    for _ in range(6):
        i, f, g, o = np.split(x @ w + h @ u + b, 4, axis=-1)
        c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
        h = sigmoid(o) * np.tanh(c)
        word = (h @ dense_w + dense_b).argmax(-1)
        ended |= word == 0
        expected.append(np.where(ended, 0, word))
        x = table[word]
    np.testing.assert_array_equal(decoded, np.stack(expected, 1))
    for row in decoded:  # nothing after the first padding
        if (row == 0).any():
            assert not row[np.argmax(row == 0):].any()
    assert captioner.describe(images, max_words=6).shape == (3,)


def test_a_short_fit_teaches_the_captioner_its_captions(text_encoder):
    keras.utils.set_random_seed(0)
    data = kt.data.load("shapes", "train", image_size=16, batch_size=16, num_scenes=32,
                        tokenizer=text_encoder.tokenizer, max_objects=1)
    data = data.map(lambda b: {"image": b["image"], "tokens": b["tokens"]}).cache()
    captioner = STREAMCaptioner(text_encoder.tokenizer, feature_dim=16, units=32, width=8,
                                input_size=16)
    captioner.compile(keras.optimizers.Adam(3e-3))
    history = captioner.fit(data, epochs=60, verbose=0).history  # 120 steps
    assert history["loss"][-1] < 0.5 * history["loss"][0]
    assert history["word_accuracy"][-1] > history["word_accuracy"][0] + 0.3


def test_the_damsm_backbone_is_the_image_encoders_trunk_frozen(text_encoder, batch, tmp_path):
    image_encoder = DAMSMImageEncoder(feature_dim=8, width=4, input_size=16)
    for v in image_encoder.trunk.weights:  # not the initial values (BatchNorm's are 0 and 1)
        v.assign(normal(*v.shape))
    captioner = STREAMCaptioner(text_encoder.tokenizer, backbone="damsm", feature_dim=8,
                                units=8, image_encoder=image_encoder)
    assert captioner.input_size == 16 and captioner.width == 4  # the encoder's
    trunk = [v for v in captioner.encoder.weights if "projection" not in v.path]
    assert len(trunk) == len(image_encoder.trunk.weights)
    for ours, theirs in zip(trunk, image_encoder.trunk.weights):
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    # Only the projection and the decoder train; the trunk's BatchNorm runs on its statistics.
    assert not any(v is t for v in captioner.trainable_variables for t in trunk)
    before = [v.numpy() for v in trunk]
    captioner.compile(keras.optimizers.Adam(1e-2))
    one = {"image": batch["image"], "tokens": batch["tokens"]}
    captioner.fit(tf.data.Dataset.from_tensors(one), epochs=1, verbose=0)
    for value, v in zip(before, trunk):
        np.testing.assert_array_equal(value, v.numpy())
    path = tmp_path / "captioner.keras"
    captioner.save(path)
    loaded = keras.saving.load_model(path, compile=False)
    np.testing.assert_allclose(loaded(batch["image"], batch["tokens"]),
                               captioner(batch["image"], batch["tokens"]), atol=1e-6)
    with pytest.raises(ValueError, match="needs the pretrained DAMSM image encoder"):
        STREAMCaptioner(text_encoder.tokenizer, backbone="damsm")
    with pytest.raises(ValueError, match="image_encoder is for"):
        STREAMCaptioner(text_encoder.tokenizer, image_encoder=image_encoder)


# -- the model -------------------------------------------------------------------------------
@pytest.mark.slow  # builds the full-size 256×256 networks
def test_parameter_counts_equal_the_official_code():
    """``model.py`` with ``cfg/train_bird.yml`` (seeds.md §4.1)."""
    g = MirrorGANGenerator(256, stages=3, gf_dim=32, r_num=2)
    assert count(g) == 7_105_392
    assert (count(g.ca), count(g.initial)) == (102_800, 6_444_928)
    assert [count(s) for s in g.refinements] == [277_536] * 2
    assert [count(StageDiscriminator(s, ndf=64, normalization="batch"))
            for s in (64, 128, 256)] == [6_313_730, 19_424_002, 71_858_946]
    # CUB's vocabulary: 5,450 ids (AttnGAN's <end> at 0 is this package's padding).
    words = [f"w{i}" for i in range(5_450 - 2)]
    captioner = STREAMCaptioner(CaptionTokenizer(words))
    decoder = [captioner.embedding, captioner.cell, captioner.classifier]
    assert captioner.tokenizer.vocabulary_size() == 5_450
    assert sum(count(layer) for layer in decoder) == 5_768_010


def test_one_step_trains_g_and_every_d_and_leaves_the_captioner(text_encoder, captioner,
                                                                 batch):
    gan = tiny(text_encoder, captioner, stream_weight=10.0, kl_weight=1.0)
    gan.compile(g_optimizer=keras.optimizers.SGD(0.1), d_optimizer=keras.optimizers.SGD(0.1))
    assert not gan.captioner.trainable and gan.captioner not in gan.networks().values()
    before = {name: [w.numpy().copy() for w in net.trainable_weights]
              for name, net in gan.networks().items() if name != "generator_ema"}
    frozen = [w.numpy().copy() for w in gan.captioner.weights]
    values = {k: float(v) for k, v in gan.train_step(batch).items()}
    assert set(values) == {"d_loss", "g_loss", "d_loss_32", "d_loss_64", "g_adv_32",
                           "g_adv_64", "stream", "kl"}
    assert values["g_loss"] == pytest.approx(values["g_adv_32"] + values["g_adv_64"]
                                             + 10.0 * values["stream"] + values["kl"], rel=1e-5)
    images = gan.generate_images(gan.sample_latents(4), gan.encode_text(batch["tokens"]))
    assert values["stream"] > 0
    for name, weights in before.items():
        after = gan.networks()[name].trainable_weights
        assert any(not np.allclose(a, b.numpy()) for a, b in zip(weights, after)), name
    for old, new in zip(frozen, gan.captioner.weights):  # BatchNorm statistics included
        np.testing.assert_array_equal(old, new.numpy())
    assert [x.shape for x in images["images"]] == [(4, 32, 32, 3), (4, 64, 64, 3)]
    # AttnGAN's discriminators: BatchNorm, not spectral normalisation.
    assert all(d.normalization == "batch" for d in gan.discriminators)


def test_mirrored_first_step_agrees_with_one_device(text_encoder, captioner,
                                                    mirrored_strategy):
    """Two replicas on one global batch: the same losses and weights as one device (one scene
    repeated and four latent draws tiled, so that each replica's BatchNorm statistics are the
    whole batch's, as in DM-GAN's test)."""
    ds = kt.data.load("shapes", "test", image_size=64, batch_size=1, num_scenes=1,
                      tokenizer=text_encoder.tokenizer, max_objects=1)
    one = next(iter(ds))
    data = tf.data.Dataset.from_tensors({k: tf.repeat(one[k], 8, axis=0)
                                         for k in ("image", "tokens")})
    latents = {"noise": tf.constant(normal(4, 100)), "condition": tf.constant(normal(4, 100))}

    def fixed_latents(n):
        return {k: tf.tile(v, (n // 4, 1)) for k, v in latents.items()}

    sgd = lambda: {"g_optimizer": keras.optimizers.SGD(0.05),  # noqa: E731
                   "d_optimizer": keras.optimizers.SGD(0.05)}
    single = tiny(text_encoder, captioner)
    weights = single.get_weights()
    single.sample_latents = fixed_latents
    single.compile(**sgd())
    expected = single.fit(data, epochs=1, verbose=0, shuffle=False).history
    with mirrored_strategy.scope():
        mirrored = tiny(text_encoder, captioner)
        mirrored.set_weights(weights)
        mirrored.sample_latents = fixed_latents
        mirrored.compile(**sgd())
    got = mirrored.fit(data, epochs=1, verbose=0, shuffle=False).history
    assert "stream" in expected
    for name in expected:
        assert got[name][0] == pytest.approx(expected[name][0], rel=1e-4, abs=1e-5), name
    for a, b in zip(single.get_weights(), mirrored.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_the_captioner_must_share_the_text_encoders_vocabulary(text_encoder):
    other = STREAMCaptioner(CaptionTokenizer(["a", "red", "circle"]), feature_dim=8, units=8,
                            width=4, input_size=16)
    with pytest.raises(ValueError, match="vocabulary is not the text encoder's"):
        tiny(text_encoder, other)
    with pytest.raises(ValueError, match="needs a pretrained STREAM captioner"):
        tiny(text_encoder)
    ablation = tiny(text_encoder, stream_weight=0.0)  # no captioner needed
    assert "stream" not in [t.name for t in ablation.loss_terms]


def test_round_trips(text_encoder, captioner, batch, tmp_path):
    gan = tiny(text_encoder, captioner, mode_seeking=1.0)
    gan.compile()
    gan.train_step(batch)
    loaded = kt.models.from_preset(gan.save_to_preset(tmp_path / "saved"))
    assert isinstance(loaded, kt.models.MirrorGAN) and loaded.stream_weight == 10.0
    for a, b in zip(gan.get_weights(), loaded.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    # The frozen captioner travels with the model, weights and BatchNorm statistics included.
    assert any(w is captioner.weights[0] for w in gan.weights)
    for a, b in zip(captioner.weights, loaded.captioner.weights, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    captions = ["a small red circle in the center"]
    np.testing.assert_array_equal(gan.generate(captions, seed=5), loaded.generate(captions, seed=5))
    captioner.save(tmp_path / "captioner.keras")
    again = kt.pretrain.load_captioner(tmp_path)
    images = batch["image"][:2]
    np.testing.assert_array_equal(again.decode(images).numpy(), captioner.decode(images).numpy())


def test_the_exported_model_follows_caption_and_seed(text_encoder, captioner, tmp_path):
    from keras_t2i.export import export_saved_model
    from keras_t2i.serving import LocalModel

    gan = tiny(text_encoder, captioner, max_batch=4)
    gan.compile()
    # An untrained text encoder's sentences are ~0.01 and an untrained head draws grey: scale
    # CA's input and the heads so that captions and seeds show.
    ca = gan.generator_ema.ca.fc
    ca.kernel.assign(ca.kernel.numpy() * 300.0)
    for head in gan.generator_ema.heads:
        head.conv.kernel.assign(head.conv.kernel.numpy() * 30.0)
    export_saved_model(gan, tmp_path / "sm", preset="test",
                       data={"name": "shapes", "options": {"max_objects": 1}, "image_size": 64})
    model = LocalModel(tmp_path / "sm")
    a, b = "a small red circle in the center", "a big blue star on the left"
    images = model.generate([a, b], [9, 9])
    np.testing.assert_array_equal(images, gan.generate([a, b], seeds=[9, 9]))
    assert np.abs(images[0].astype(int) - images[1].astype(int)).mean() > 1
    assert not np.array_equal(model.generate([a], [10])[0], images[0])


def test_image_encoder_options_work_beside_the_captioner(text_encoder, captioner, batch):
    encoder = DAMSMImageEncoder(feature_dim=16, width=4, input_size=16)
    gan = tiny(text_encoder, captioner, image_encoder=encoder, damsm_weight=1.0,
               paired_weight=1.0, paired_distance="features")
    gan.compile()
    values = {k: float(v) for k, v in gan.train_step(batch).items()}
    assert {"stream", "damsm", "paired"} <= set(values)
    assert all(np.isfinite(v) for v in values.values())
