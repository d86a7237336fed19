"""Next-token choice from one row of logits, as transformers applies it: repetition penalty, then greedy or
temperature + top-p (nucleus) sampling.

``nucleus`` is the fast path the chat engine uses: it sorts only the few hundred most likely tokens, not the
whole 49k vocabulary, and falls back to the full sort when the nucleus reaches past them. ``nucleus_reference``
is the plain full-sort definition; ``tests/test_sampling.py`` proves the two keep the same tokens with the same
probabilities.
"""

from __future__ import annotations

import numpy as np

CANDIDATES = 256  # tokens sorted on the fast path; a top-p of 0.9 keeps far fewer on a chat model's logits


def apply_repetition_penalty(logits: np.ndarray, seen_ids: list[int], penalty: float) -> np.ndarray:
    """Divide positive / multiply negative logits of tokens already in the prompt or answer (in place)."""
    if penalty != 1.0 and seen_ids:
        seen = np.unique(np.asarray(seen_ids))
        values = logits[seen]
        logits[seen] = np.where(values > 0, values / penalty, values * penalty)
    return logits


def _softmax_numerators(logits: np.ndarray) -> tuple[np.ndarray, float]:
    weights = np.exp(logits - logits.max())
    return weights, float(weights.sum())


def nucleus_reference(logits: np.ndarray, top_p: float) -> tuple[np.ndarray, np.ndarray]:
    """(token ids, probabilities) of the smallest most-likely set whose mass reaches ``top_p``: full sort."""
    weights, total = _softmax_numerators(logits)
    order = np.argsort(-logits, kind="stable")
    probs = weights[order] / total
    keep = max(1, int(np.searchsorted(np.cumsum(probs), top_p) + 1))
    return order[:keep], probs[:keep] / probs[:keep].sum()


def nucleus(logits: np.ndarray, top_p: float, candidates: int = CANDIDATES) -> tuple[np.ndarray, np.ndarray]:
    """``nucleus_reference`` sorting only the ``candidates`` largest logits when their mass already reaches top_p."""
    if candidates >= logits.size:
        return nucleus_reference(logits, top_p)
    weights, total = _softmax_numerators(logits)
    split = np.argpartition(-logits, candidates)  # the first `candidates` hold the largest; the next is the runner-up
    top, runner_up = split[:candidates], logits[split[candidates]]
    order = top[np.lexsort((top, -logits[top]))]  # by logit, ties by id: the stable full sort's order
    probs = weights[order] / total
    cumulative = np.cumsum(probs)
    if cumulative[-1] < top_p or logits[order[-1]] == runner_up:
        return nucleus_reference(logits, top_p)  # the nucleus reaches past the candidates, or a tie at their edge
    keep = max(1, int(np.searchsorted(cumulative, top_p) + 1))
    return order[:keep], probs[:keep] / probs[:keep].sum()


def choose_token(logits: np.ndarray, seen_ids: list[int], temperature: float, top_p: float,
                 repetition_penalty: float, rng: np.random.Generator) -> int:
    """The next token id (``logits`` is modified in place)."""
    apply_repetition_penalty(logits, seen_ids, repetition_penalty)
    if temperature == 0:
        return int(np.argmax(logits))
    ids, probs = nucleus(logits / temperature, top_p)
    return int(ids[rng.choice(len(ids), p=probs)])
