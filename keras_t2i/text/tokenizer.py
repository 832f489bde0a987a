"""Caption normalisation, tokenisation and the vocabulary that travels with a model.

The same :class:`CaptionTokenizer` runs in the tf.data pipeline (``keras_t2i.data``) and, later,
inside the exported serving graph, so it uses only core TensorFlow and tensorflow-text ops.

Conventions follow the AttnGAN family (``build_dictionary`` / ``get_caption``, seeds.md §1.1):
lower-cased ASCII words matching ``\\w+``, id 0 is padding (AttnGAN's ``<end>``), no BOS/EOS.
Unlike AttnGAN, the vocabulary is built from the *training* captions only, so an id for
out-of-vocabulary words is reserved (id 1, ``[UNK]``) instead of leaking test words into the
vocabulary.
"""

from __future__ import annotations

import collections
from collections.abc import Iterable

import keras
import tensorflow as tf
import tensorflow_text as tf_text

PAD_TOKEN = ""
UNK_TOKEN = "[UNK]"
PAD_ID = 0
UNK_ID = 1
RESERVED_TOKENS = (PAD_TOKEN, UNK_TOKEN)
LONG_CAPTION_MODES = ("sample", "truncate")
# check_words suggests known words for at most this many distinct unknown words per call.
SUGGESTED_WORDS = 32

_WHITESPACE_TOKENIZER = tf_text.WhitespaceTokenizer()


def split_words(captions: tf.Tensor) -> tf.RaggedTensor:
    """Normalises captions and splits them into words.

    Case-folds, decomposes accents (NFKD) and drops the remaining non-ASCII characters (so
    "Café" becomes "cafe"), then keeps the runs of ``[a-z0-9_]`` as words, like AttnGAN's
    ``RegexpTokenizer(r'\\w+')``.

    Args:
        captions: tf.string tensor of any rank.

    Returns:
        A ragged tf.string tensor with one more (ragged) dimension of words.
    """
    text = tf_text.case_fold_utf8(captions)
    text = tf_text.normalize_utf8(text, "NFKD")
    text = tf.strings.regex_replace(text, r"[^\x00-\x7f]", "")
    text = tf.strings.regex_replace(text, r"[^a-z0-9_]+", " ")
    return _WHITESPACE_TOKENIZER.tokenize(text)


def build_vocabulary(
    captions: Iterable[str], min_count: int = 1, max_size: int | None = None
) -> list[str]:
    """Builds a vocabulary from training captions.

    Words are ordered by descending count, ties alphabetically, so the same captions always
    give the same ids. Reserved tokens (padding, ``[UNK]``) are not included: the tokenizer
    adds them in front.

    Args:
        captions: iterable of Python strings (the training captions).
        min_count: int. Words seen fewer times are left out (become ``[UNK]``). Defaults to 1.
        max_size: int or None. Keep at most this many words. Defaults to None (no limit).

    Returns:
        The list of words.
    """
    if min_count < 1:
        raise ValueError(f"min_count must be >= 1, got {min_count}")
    counts: collections.Counter[str] = collections.Counter()
    batch: list[str] = []

    def flush():
        words = split_words(tf.constant(batch, tf.string))
        counts.update(w.decode("utf-8") for w in words.flat_values.numpy())
        batch.clear()

    for caption in captions:
        if not isinstance(caption, str):
            raise TypeError(f"captions must be str, got {type(caption).__name__}: {caption!r}")
        batch.append(caption)
        if len(batch) == 4096:
            flush()
    if batch:
        flush()
    if not counts:
        raise ValueError("Cannot build a vocabulary: the captions contain no words.")
    words = sorted((w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w))
    return words[:max_size] if max_size is not None else words


@keras.saving.register_keras_serializable(package="keras_t2i")
class CaptionTokenizer(keras.layers.Layer):
    """Turns raw caption strings into padded word ids.

    Id 0 is padding, id 1 is ``[UNK]``, then the vocabulary in order. Captions longer than
    ``max_words`` are truncated at inference; during training (``training=True`` with
    ``long_captions="sample"``) ``max_words`` word positions are drawn at random and kept in
    their original order, as AttnGAN's ``get_caption`` does (seeds.md §1.1).

    Args:
        vocabulary: list of str. The words, without the reserved tokens (see
            :func:`build_vocabulary`).
        max_words: int. Length of the padded output. Defaults to 18 (AttnGAN ``WORDS_NUM``).
        long_captions: str. ``"sample"`` or ``"truncate"``: what training does with captions
            longer than ``max_words``. Defaults to ``"sample"``.

    Example:
    >>> tok = CaptionTokenizer(["a", "red", "circle"], max_words=4)
    >>> tok(tf.constant(["A red circle!"]))  # (batch, max_words) int32: [[2, 3, 4, 0]]

    Reference: Xu et al., AttnGAN, CVPR 2018 (code: ``datasets.py``).
    """

    def __init__(self, vocabulary, max_words=18, long_captions="sample", **kwargs):
        kwargs.setdefault("trainable", False)
        kwargs.setdefault("dtype", "int32")
        super().__init__(**kwargs)
        vocabulary = [str(w) for w in vocabulary]
        if not vocabulary:
            raise ValueError("CaptionTokenizer needs a non-empty vocabulary.")
        reserved = sorted(set(vocabulary) & set(RESERVED_TOKENS))
        if reserved:
            raise ValueError(f"The vocabulary must not contain the reserved tokens {reserved}.")
        if len(set(vocabulary)) != len(vocabulary):
            dupes = [w for w, c in collections.Counter(vocabulary).items() if c > 1][:5]
            raise ValueError(f"The vocabulary has repeated words, e.g. {dupes}.")
        if int(max_words) < 1:
            raise ValueError(f"max_words must be >= 1, got {max_words}")
        if long_captions not in LONG_CAPTION_MODES:
            raise ValueError(
                f"long_captions must be one of {LONG_CAPTION_MODES}, got {long_captions!r}"
            )
        self.vocabulary = vocabulary
        self.max_words = int(max_words)
        self.long_captions = long_captions
        self.lookup = keras.layers.StringLookup(
            vocabulary=vocabulary,
            mask_token=PAD_TOKEN,
            oov_token=UNK_TOKEN,
            num_oov_indices=1,
            name="lookup",
        )
        self._words = tf.constant(list(RESERVED_TOKENS) + vocabulary, tf.string)
        self.built = True

    @classmethod
    def from_captions(cls, captions, min_count=1, max_size=None, **kwargs):
        """Builds the vocabulary from training captions; other kwargs go to the constructor."""
        return cls(build_vocabulary(captions, min_count, max_size), **kwargs)

    def vocabulary_size(self) -> int:
        """Number of ids, reserved ones included."""
        return len(self.vocabulary) + len(RESERVED_TOKENS)

    def call(self, captions, training=None, seed=None):
        captions = tf.convert_to_tensor(captions)
        if captions.dtype != tf.string:
            raise TypeError(f"CaptionTokenizer expects tf.string captions, got {captions.dtype}.")
        scalar = captions.shape.rank == 0
        if scalar:
            captions = captions[tf.newaxis]
        ids = tf.cast(self.lookup(split_words(captions)), tf.int32)
        if training and self.long_captions == "sample":
            tokens = _sample_word_positions(ids, self.max_words, seed)
        else:
            tokens = ids[:, : self.max_words].to_tensor(PAD_ID, shape=[None, self.max_words])
        return tokens[0] if scalar else tokens

    def check_words(self, captions):
        """The words of each caption outside the vocabulary, and the nearest known word of
        each (in graph: the export's ``tokenize`` signature runs it, so a serving client can
        check captions too).

        A known word is suggested when its edit distance (Levenshtein, on the normalised
        word) is at most 1 for words of up to 4 letters and at most 2 for longer ones, the
        first in vocabulary order among the nearest; suggestions are looked up for the first
        ``SUGGESTED_WORDS`` distinct unknown words of the call (which bounds the work of one
        request), later ones get none.

        Args:
            captions: tf.string tensor (batch,).

        Returns:
            (unknown, suggestions): tf.string tensors (batch, most unknown words of a
            caption), padded with ""; ``suggestions[i, j]`` is "" when no known word is near
            ``unknown[i, j]``.
        """
        captions = tf.convert_to_tensor(captions, tf.string)
        words = split_words(captions)
        unknown = tf.ragged.boolean_mask(
            words, tf.equal(tf.cast(self.lookup(words), tf.int32), UNK_ID))
        distinct, index = tf.unique(unknown.flat_values)
        looked_up = distinct[:SUGGESTED_WORDS]
        nearest = tf.concat([self._nearest_words(looked_up),
                             tf.fill([tf.size(distinct) - tf.size(looked_up)], "")], 0)
        suggestions = unknown.with_flat_values(tf.gather(nearest, index))
        return unknown.to_tensor(""), suggestions.to_tensor("")

    def _nearest_words(self, words):
        """For each word (tf.string (U,)), the nearest vocabulary word within the distance
        of ``check_words``, else ""."""
        # EditDistance refuses an empty batch.
        return tf.cond(tf.size(words) > 0, lambda: self._nearest_nonempty(words),
                       lambda: tf.zeros([0], tf.string))

    def _nearest_nonempty(self, words):
        vocabulary = tf.constant(self.vocabulary, tf.string)
        count, size = tf.size(words), tf.size(vocabulary)
        # Every (word, vocabulary word) pair, as characters: edit distances (U, V).
        pairs_word = tf.repeat(tf.range(count), size)
        pairs_known = tf.tile(tf.range(size), [count])
        letters = tf.strings.bytes_split(words)
        known_letters = tf.strings.bytes_split(vocabulary)
        distance = tf.edit_distance(tf.gather(letters, pairs_word).to_sparse(),
                                    tf.gather(known_letters, pairs_known).to_sparse(),
                                    normalize=False)
        distance = tf.reshape(distance, [count, size])
        best = tf.argmin(distance, axis=1, output_type=tf.int32)
        best_distance = tf.gather(distance, best, batch_dims=1)
        allowed = tf.where(tf.strings.length(words) <= 4, 1.0, 2.0)
        return tf.where(best_distance <= allowed, tf.gather(vocabulary, best), "")

    def detokenize(self, tokens):
        """Maps ids back to space-joined words; padding is dropped, unknown words read [UNK].

        Args:
            tokens: int tensor, (batch, words) or (words,).

        Returns:
            tf.string tensor of shape (batch,) or ().
        """
        tokens = tf.convert_to_tensor(tokens)
        words = tf.gather(self._words, tokens)
        words = tf.ragged.boolean_mask(words, tf.not_equal(tokens, PAD_ID))
        return tf.strings.reduce_join(words, axis=-1, separator=" ")

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.max_words,)

    def compute_output_spec(self, inputs, training=None):
        return keras.KerasTensor(self.compute_output_shape(inputs.shape), dtype="int32")

    def get_config(self):
        config = super().get_config()
        config.update(
            vocabulary=list(self.vocabulary),
            max_words=self.max_words,
            long_captions=self.long_captions,
        )
        return config


def _sample_word_positions(ids: tf.RaggedTensor, max_words: int, seed=None) -> tf.Tensor:
    """Keeps ``max_words`` random word positions of each long row, in order; pads short rows.

    ``seed`` (int (2,)) makes the draw stateless (as tf.data pipelines need); None uses the
    stateful generator.
    """
    dense = ids.to_tensor(PAD_ID)
    dense = tf.pad(dense, [[0, 0], [0, tf.maximum(0, max_words - tf.shape(dense)[1])]])
    valid = tf.sequence_mask(ids.row_lengths(), tf.shape(dense)[1])
    # Real words get keys in [0, 1), padding -1: top_k keeps every word of a short row and a
    # uniform random subset of a long one; sorting the chosen positions restores word order.
    if seed is None:
        noise = tf.random.uniform(tf.shape(dense))
    else:
        noise = tf.random.stateless_uniform(tf.shape(dense), seed=seed)
    keys = tf.where(valid, noise, -1.0)
    _, positions = tf.math.top_k(keys, k=max_words)
    positions = tf.sort(positions, axis=-1)
    return tf.gather(dense, positions, batch_dims=1)
