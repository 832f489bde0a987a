import keras
import numpy as np
import pytest
import tensorflow as tf
from harness import check_config_round_trip

from keras_t2i.text.tokenizer import (
    PAD_ID,
    SUGGESTED_WORDS,
    UNK_ID,
    CaptionTokenizer,
    build_vocabulary,
    split_words,
)

VOCAB = ["a", "red", "circle", "small", "on", "the", "left"]


def ids(words):
    return [VOCAB.index(w) + 2 for w in words]


def test_tokenize_pads_and_maps_words():
    tok = CaptionTokenizer(VOCAB, max_words=6)
    out = tok(tf.constant(["A small RED circle!", "the left"]))
    assert out.dtype == tf.int32 and out.shape == (2, 6)
    np.testing.assert_array_equal(out[0], ids(["a", "small", "red", "circle"]) + [PAD_ID] * 2)
    np.testing.assert_array_equal(out[1], ids(["the", "left"]) + [PAD_ID] * 4)


def test_round_trip_through_detokenize():
    tok = CaptionTokenizer(VOCAB, max_words=8)
    text = tf.constant(["A small red circle, on the LEFT."])
    back = tok.detokenize(tok(text))
    assert back.numpy()[0].decode() == "a small red circle on the left"


def test_out_of_vocabulary_words_become_unk():
    tok = CaptionTokenizer(VOCAB, max_words=5)
    out = tok(tf.constant(["a purple hexagon"])).numpy()[0]
    np.testing.assert_array_equal(out, [ids(["a"])[0], UNK_ID, UNK_ID, PAD_ID, PAD_ID])
    assert tok.detokenize(out).numpy().decode() == "a [UNK] [UNK]"


def test_normalisation_folds_case_accents_and_punctuation():
    words = split_words(tf.constant(["Café-au-lait, NAÏVE bird's  wing"]))
    assert [w.decode() for w in words.to_list()[0]] == [
        "cafe", "au", "lait", "naive", "bird", "s", "wing"]


def test_inference_truncates_long_captions():
    tok = CaptionTokenizer(VOCAB, max_words=3)
    out = tok(tf.constant(["a small red circle on the left"]), training=False)
    np.testing.assert_array_equal(out[0], ids(["a", "small", "red"]))


def test_training_samples_positions_in_order():
    words = [f"w{i}" for i in range(30)]
    tok = CaptionTokenizer(words, max_words=10)
    caption = tf.constant([" ".join(words)] * 50)
    out = tok(caption, training=True).numpy()
    assert (out > 0).all(), "a long caption keeps max_words real words"
    assert (np.diff(out, axis=1) > 0).all(), "sampled words keep their original order"
    assert len({tuple(row) for row in out}) > 40, "positions are drawn at random per caption"
    short = tok(tf.constant(["w3 w1"]), training=True).numpy()[0]
    np.testing.assert_array_equal(short, [5, 3] + [PAD_ID] * 8)


def test_truncate_mode_is_deterministic_in_training():
    tok = CaptionTokenizer(VOCAB, max_words=2, long_captions="truncate")
    out = tok(tf.constant(["a small red circle"]), training=True)
    np.testing.assert_array_equal(out[0], ids(["a", "small"]))


def test_scalar_caption():
    tok = CaptionTokenizer(VOCAB, max_words=4)
    assert tok(tf.constant("red circle")).shape == (4,)


def test_works_inside_tf_data_and_tf_function():
    tok = CaptionTokenizer(VOCAB, max_words=4)
    ds = tf.data.Dataset.from_tensor_slices(["a red circle", "left"]).batch(2).map(tok)
    np.testing.assert_array_equal(next(iter(ds))[1], ids(["left"]) + [0, 0, 0])
    graph_fn = tf.function(lambda s: tok(s), input_signature=[tf.TensorSpec([None], tf.string)])
    np.testing.assert_array_equal(graph_fn(tf.constant(["red"]))[0], ids(["red"]) + [0, 0, 0])


def test_serialisation_keeps_vocabulary():
    tok = CaptionTokenizer(VOCAB, max_words=5, long_captions="truncate")
    clone = check_config_round_trip(tok)
    text = tf.constant(["the small red circle on the left"])
    np.testing.assert_array_equal(tok(text), clone(text))
    assert clone.vocabulary_size() == len(VOCAB) + 2


def test_symbolic_call():
    tok = CaptionTokenizer(VOCAB, max_words=5)
    out = tok(keras.Input(shape=(), dtype="string"))
    assert tuple(out.shape) == (None, 5) and out.dtype == "int32"


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="reserved"):
        CaptionTokenizer(["a", "[UNK]"])
    with pytest.raises(ValueError, match="repeated"):
        CaptionTokenizer(["a", "a"])
    with pytest.raises(ValueError, match="max_words"):
        CaptionTokenizer(VOCAB, max_words=0)
    with pytest.raises(ValueError, match="long_captions"):
        CaptionTokenizer(VOCAB, long_captions="cut")
    with pytest.raises(TypeError, match="tf.string"):
        CaptionTokenizer(VOCAB)(tf.constant([1, 2]))


def test_build_vocabulary_orders_by_count_then_alphabet():
    vocab = build_vocabulary(["b a", "a c", "A, b!", "d"])
    assert vocab == ["a", "b", "c", "d"]
    assert build_vocabulary(["b a", "a c", "a b"], min_count=2) == ["a", "b"]
    assert build_vocabulary(["b a", "a c", "a b"], max_size=1) == ["a"]
    with pytest.raises(ValueError, match="no words"):
        build_vocabulary(["!!", ""])
    with pytest.raises(TypeError, match="must be str"):
        build_vocabulary([b"bytes"])


def _checked(tokenizer, captions):
    unknown, suggestions = tokenizer.check_words(tf.constant(captions, tf.string))
    return ([[w.decode() for w in row] for row in unknown.numpy()],
            [[w.decode() for w in row] for row in suggestions.numpy()])


def test_check_words_names_unknown_words_and_the_nearest_known_one():
    tok = CaptionTokenizer(["a", "big", "red", "green", "triangle", "on", "the", "right"])
    unknown, near = _checked(tok, ["A big GREN triangel on the rihgt!", "a fluffy dog",
                                   "a big red triangle", "rde"])
    assert unknown == [["gren", "triangel", "rihgt"], ["fluffy", "dog", ""], ["", "", ""],
                       ["rde", "", ""]]
    # Distance 1 for words of up to 4 letters, 2 for longer; "rde" is 2 from "red".
    assert near == [["green", "triangle", "right"], ["", "", ""], ["", "", ""], ["", "", ""]]
    assert _checked(tok, []) == ([], [])
    graph = tf.function(tok.check_words)  # as the export's tokenize signature runs it
    unknown, near = graph(tf.constant(["a gren dog"]))
    assert unknown.numpy().tolist() == [[b"gren", b"dog"]]
    assert near.numpy().tolist() == [[b"green", b""]]


def test_check_words_bounds_its_suggestions_per_call():
    tok = CaptionTokenizer(["red"])
    filler = [f"zz{chr(97 + i // 26)}{chr(97 + i % 26)}" for i in range(SUGGESTED_WORDS)]
    unknown, near = _checked(tok, [" ".join(filler), "redd"])
    assert unknown[0] == filler and unknown[1][0] == "redd"
    # "redd" is one edit from "red", but the 33rd distinct unknown word of the call.
    assert near[0] == [""] * SUGGESTED_WORDS and near[1][0] == ""
    assert _checked(tok, ["redd"])[1] == [["red"]]  # alone, it gets its suggestion
