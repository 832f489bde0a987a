import keras
import numpy as np
import pytest
import tensorflow as tf
from harness import check_config_round_trip, run_layer_checks

import keras_t2i as kt
from keras_t2i.text.damsm import DAMSM, DAMSMImageEncoder, DAMSMTextEncoder
from keras_t2i.text.tokenizer import CaptionTokenizer

VOCAB = ["a", "red", "blue", "circle", "square", "left", "right", "on", "the"]


def tiny_text_encoder(**kwargs):
    kwargs.setdefault("embedding_dim", 12)
    kwargs.setdefault("units", 8)
    return DAMSMTextEncoder(CaptionTokenizer(VOCAB, max_words=6), **kwargs)


def tiny_image_encoder(**kwargs):
    kwargs.setdefault("feature_dim", 16)
    kwargs.setdefault("width", 4)
    kwargs.setdefault("input_size", 32)
    return DAMSMImageEncoder(**kwargs)


def test_text_encoder_layer_checks():
    enc = tiny_text_encoder()
    tokens = enc.tokenizer(tf.constant(["a red circle", "the blue square on the left"]))
    run_layer_checks(enc, tokens, [(2, 6, 16), (2, 16)], ["float32", "float32"])


def test_sentence_feature_is_the_final_state_of_each_direction():
    enc = tiny_text_encoder()
    tokens = np.array([[2, 3, 4, 0, 0, 0], [5, 6, 7, 8, 9, 10]], np.int32)
    words, sentence = enc(tokens, training=False)
    for b, length in enumerate((3, 6)):
        np.testing.assert_allclose(sentence[b, :8], words[b, length - 1, :8], atol=1e-6)
        np.testing.assert_allclose(sentence[b, 8:], words[b, 0, 8:], atol=1e-6)
    # Padding does not change the sentence feature.
    longer = tiny_text_encoder()
    longer.set_weights(enc.get_weights())
    _, padded = longer(np.pad(tokens[:1], [[0, 0], [0, 4]]), training=False)
    np.testing.assert_allclose(padded[0], sentence[0], atol=1e-6)


def test_the_lstm_skips_columns_of_padding_with_the_same_features():
    """The encoder cuts the columns that are padding in every row before the LSTM; its
    features equal the masked LSTM's over all columns (the padded words' are zero), and a
    batch of no rows or of empty captions still encodes."""
    enc = tiny_text_encoder()
    tokens = np.array([[2, 3, 4, 0, 0, 0], [5, 6, 0, 0, 0, 0]], np.int32)
    words, sentence = enc(tokens, training=False)
    full, h_forward, _, h_backward, _ = enc.rnn(enc.embedding(tokens),
                                                mask=tokens != 0, training=False)
    assert words.shape == (2, 6, 16)
    np.testing.assert_allclose(words, full, atol=1e-6)
    np.testing.assert_allclose(sentence, np.concatenate([h_forward, h_backward], -1),
                               atol=1e-6)
    assert np.all(np.asarray(words)[:, 3:] == 0.0)
    graph = tf.function(lambda t: enc(t, training=False),
                        input_signature=[tf.TensorSpec((None, 6), tf.int32)])  # as exported
    np.testing.assert_allclose(graph(tokens)[0], words, atol=1e-6)
    assert graph(np.zeros((0, 6), np.int32))[0].shape == (0, 6, 16)
    empty_words, empty_sentence = graph(np.zeros((2, 6), np.int32))
    assert empty_words.shape == (2, 6, 16) and np.all(np.isfinite(empty_sentence))


def test_text_encoder_encode_raw_captions():
    enc = tiny_text_encoder()
    words, sentence = enc.encode(["A red circle!", "blue"])
    assert words.shape == (2, 6, 16) and sentence.shape == (2, 16)


def test_image_encoder_layer_checks():
    enc = tiny_image_encoder()
    images = np.random.default_rng(0).uniform(-1, 1, (2, 32, 32, 3)).astype("float32")
    run_layer_checks(enc, images, [(2, 4, 4, 16), (2, 16)], ["float32", "float32"])


def test_image_encoder_resizes_other_sizes():
    enc = tiny_image_encoder()
    regions, glob = enc(np.zeros((1, 48, 48, 3), "float32"))
    assert regions.shape == (1, 4, 4, 16) and glob.shape == (1, 16)


def test_encoders_save_and_load(tmp_path):
    text, image = tiny_text_encoder(), tiny_image_encoder()
    tokens = text.tokenizer(tf.constant(["a red circle on the left"]))
    images = np.random.default_rng(1).uniform(-1, 1, (2, 32, 32, 3)).astype("float32")
    expected = [text(tokens), image(images)]
    text.save(tmp_path / "t.keras")
    image.save(tmp_path / "i.keras")
    text2 = keras.saving.load_model(tmp_path / "t.keras")
    image2 = keras.saving.load_model(tmp_path / "i.keras")
    assert text2.tokenizer.vocabulary == VOCAB
    for got, want in zip([text2(tokens), image2(images)], expected):
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w, atol=1e-6)
    np.testing.assert_array_equal(
        text2.encode(["red circle"])[1], text.encode(["red circle"])[1])


def test_inception_backbone_needs_a_weights_file():
    with pytest.raises(ValueError, match="backbone_weights"):
        DAMSMImageEncoder(backbone="inception_v3")
    with pytest.raises(ValueError, match="Unknown image-encoder backbone"):
        DAMSMImageEncoder(backbone="resnet")


@pytest.mark.slow
def test_inception_backbone_loads_user_weights(tmp_path):
    base = keras.applications.InceptionV3(include_top=False, weights=None,
                                          input_shape=(299, 299, 3))
    path = tmp_path / "inception_notop.weights.h5"
    base.save_weights(path)
    enc = DAMSMImageEncoder(backbone="inception_v3", feature_dim=16, backbone_weights=str(path))
    regions, glob = enc(np.zeros((1, 64, 64, 3), "float32"))
    assert regions.shape == (1, 17, 17, 16) and glob.shape == (1, 16)
    assert all(not w.trainable for w in enc.trunk.weights)
    assert len(enc.trainable_weights) == 3  # the two projections (kernel, kernel + bias)
    first_conv = [layer for layer in enc.trunk.layers if "conv" in layer.name][0]
    base_conv = [layer for layer in base.layers if "conv" in layer.name][0]
    np.testing.assert_array_equal(first_conv.kernel.numpy(), base_conv.kernel.numpy())
    with pytest.raises(ValueError, match="keeps its ImageNet statistics"):
        enc.calibrate_batch_norm([np.zeros((2, 64, 64, 3), "float32")])


def _corrupt_batch_norm(encoder, seed=0):
    rng = np.random.default_rng(seed)
    layers = [layer for layer in encoder.trunk.layers
              if isinstance(layer, keras.layers.BatchNormalization)]
    for layer in layers:
        n = layer.moving_mean.shape[0]
        layer.moving_mean.assign(rng.normal(0, 3, n).astype("float32"))
        layer.moving_variance.assign(rng.uniform(0.1, 10, n).astype("float32"))
    return layers


def test_calibrate_batch_norm_matches_the_batch_statistics_of_all_images():
    """Calibrated on batches of a set of images, the encoder in inference mode gives what it
    gives in training mode (batch statistics) on the whole set as one batch."""
    encoder = tiny_image_encoder()
    layers = _corrupt_batch_norm(encoder)
    images = np.random.default_rng(1).uniform(-1, 1, (20, 32, 32, 3)).astype("float32")
    whole = [t.numpy() for t in encoder(images, training=True)]  # batch statistics
    for layer in layers:  # the training-mode call above moved them a little; corrupt again
        layer.moving_mean.assign(layer.moving_mean + 1.0)
    before = [t.numpy() for t in encoder(images, training=False)]
    assert not np.allclose(before[1], whole[1], atol=1e-2)
    assert encoder.calibrate_batch_norm([images[:7], images[7:15], images[15:]]) == 20
    after = [t.numpy() for t in encoder(images, training=False)]
    for got, want in zip(after, whole):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_calibrate_batch_norm_resizes_like_call_and_checks_its_input():
    encoder = tiny_image_encoder()
    _corrupt_batch_norm(encoder)
    images = np.random.default_rng(2).uniform(-1, 1, (12, 48, 48, 3)).astype("float32")
    whole = encoder(images, training=True)[1].numpy()
    encoder.calibrate_batch_norm([images[:5], images[5:]])
    np.testing.assert_allclose(encoder(images, training=False)[1].numpy(), whole,
                               rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="at least one batch"):
        encoder.calibrate_batch_norm([])


def fixed_shapes_batch(tok, n=16):
    ds = kt.data.load("shapes", "test", image_size=32, batch_size=n, num_scenes=n,
                      tokenizer=tok, max_objects=1)
    batch = next(iter(ds))
    return {"image": batch["image"], "tokens": batch["tokens"], "class_id": batch["class_id"]}


def test_damsm_fit_lowers_both_losses():
    tok = kt.data.caption_tokenizer("shapes", max_objects=1)
    damsm = DAMSM(DAMSMTextEncoder(tok, embedding_dim=16, units=16),
                  tiny_image_encoder(feature_dim=32, width=8))
    damsm.compile(optimizer=keras.optimizers.Adam(2e-3, beta_1=0.5, beta_2=0.999))
    batch = fixed_shapes_batch(tok)
    ds = tf.data.Dataset.from_tensors(batch).repeat()
    before = damsm.evaluate(ds, steps=1, verbose=0, return_dict=True)
    damsm.fit(ds, steps_per_epoch=40, epochs=1, verbose=0, shuffle=False)
    after = damsm.evaluate(ds, steps=1, verbose=0, return_dict=True)
    assert after["word_loss"] < 0.7 * before["word_loss"], (before, after)
    assert after["sentence_loss"] < 0.7 * before["sentence_loss"], (before, after)


def test_damsm_serialises_and_masks_classes():
    damsm = DAMSM(tiny_text_encoder(), tiny_image_encoder())
    clone = check_config_round_trip(damsm)
    assert clone.gamma1 == 4.0 and clone.text_clip_norm == 0.25
    with pytest.raises(ValueError, match="must match"):
        DAMSM(tiny_text_encoder(), tiny_image_encoder(feature_dim=8))
