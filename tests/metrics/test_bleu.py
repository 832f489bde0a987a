"""Corpus BLEU against hand-computed values."""

import math

import pytest

from keras_t2i.metrics.bleu import corpus_bleu


def test_a_perfect_corpus_scores_one_and_a_disjoint_one_zero():
    ref = "a small red circle in the center".split()
    assert corpus_bleu([[ref]], [ref]) == pytest.approx(1.0)
    assert corpus_bleu([[ref]], ["the big blue star on top".split()]) == 0.0


def test_clipped_precisions_and_the_brevity_penalty_by_hand():
    refs = [["a red circle on the left".split(), "a red disc at the left".split()]]
    hyp = ["a red circle at the".split()]
    # 1-grams: a red circle at the → 5/5; 2-grams: a red, red circle, circle at?, at the
    # → "a red", "red circle", "at the" match: 3/4; 3-grams: "a red circle", "circle at the"?
    # → only "a red circle": 1/3; 4-grams: "a red circle at" no, "red circle at the" no: 0/2.
    assert corpus_bleu(refs, hyp, max_n=4) == 0.0
    p1, p2, p3 = 5 / 5, 3 / 4, 1 / 3
    brevity = math.exp(1 - 6 / 5)  # 5 words against the closest reference length 6
    expected = brevity * math.exp((math.log(p1) + math.log(p2) + math.log(p3)) / 3)
    assert corpus_bleu(refs, hyp, max_n=3) == pytest.approx(expected)
    with pytest.raises(ValueError, match="reference"):
        corpus_bleu([], hyp)
