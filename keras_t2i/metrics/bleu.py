"""Corpus BLEU (Papineni et al., ACL 2002): the geometric mean of the clipped n-gram
precisions for n = 1 … max_n, times the brevity penalty, over a whole corpus (no smoothing;
the reference length of each hypothesis is the closest one, as in the paper and NLTK's
``corpus_bleu``)."""

from __future__ import annotations

import collections
import math


def _ngrams(words, n):
    return collections.Counter(tuple(words[i:i + n]) for i in range(len(words) - n + 1))


def corpus_bleu(references, hypotheses, max_n=4) -> float:
    """BLEU-``max_n`` of ``hypotheses`` (lists of words) against ``references`` (for each
    hypothesis, a list of reference word lists). 0.0 when some n-gram order has no match."""
    if len(references) != len(hypotheses):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} reference sets")
    matches, totals = [0] * max_n, [0] * max_n
    hypothesis_length = reference_length = 0
    for refs, hyp in zip(references, hypotheses):
        if not refs:
            raise ValueError("Every hypothesis needs at least one reference")
        hypothesis_length += len(hyp)
        reference_length += min((abs(len(r) - len(hyp)), len(r)) for r in refs)[1]
        for n in range(1, max_n + 1):
            counts = _ngrams(hyp, n)
            best = collections.Counter()
            for ref in refs:
                best |= _ngrams(ref, n)
            matches[n - 1] += sum(min(c, best[g]) for g, c in counts.items())
            totals[n - 1] += max(len(hyp) - n + 1, 0)
    if min(matches) == 0 or hypothesis_length == 0:
        return 0.0
    log_precision = sum(math.log(m / t) for m, t in zip(matches, totals)) / max_n
    brevity = 1.0 if hypothesis_length > reference_length else math.exp(
        1.0 - reference_length / hypothesis_length)
    return brevity * math.exp(log_precision)
