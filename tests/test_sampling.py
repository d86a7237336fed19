"""The chat engine's sampling fast path (partial sort) keeps exactly the reference's nucleus."""

import numpy as np
import pytest

from fintune.sampling import apply_repetition_penalty, choose_token, nucleus, nucleus_reference


@pytest.mark.parametrize("seed", range(40))
def test_fast_nucleus_equals_the_full_sort(seed):
    rng = np.random.default_rng(seed)
    vocab = 49152
    scale = [0.5, 2.0, 6.0][seed % 3]  # flat to peaked logits: nuclei from thousands of tokens down to one
    logits = (rng.standard_normal(vocab) * scale).astype(np.float32)
    if seed % 5 == 0:
        logits[rng.integers(0, vocab, 300)] = logits.max()  # ties at the top, across the candidates' edge
    for top_p in (0.1, 0.5, 0.9, 0.99, 1.0):
        ids, probs = nucleus(logits, top_p)
        ref_ids, ref_probs = nucleus_reference(logits, top_p)
        assert ids.tolist() == ref_ids.tolist()
        np.testing.assert_allclose(probs, ref_probs, rtol=1e-6)


def test_a_chat_models_nucleus_stays_on_the_fast_path():
    logits = np.zeros(49152, dtype=np.float32)
    logits[:50] = np.linspace(12, 6, 50)  # a few likely tokens, a long flat tail, as in a chat model's step
    ids, probs = nucleus(logits, 0.9, candidates=256)
    assert 1 <= len(ids) <= 50 and probs.sum() == pytest.approx(1.0)


def test_same_draw_as_the_reference_and_greedy_ignores_top_p():
    logits = np.random.default_rng(1).standard_normal(1000).astype(np.float32) * 3
    drawn = [choose_token(logits.copy(), [], 0.7, 0.9, 1.0, np.random.default_rng(s)) for s in range(20)]
    ref_ids, ref_probs = nucleus_reference(logits / 0.7, 0.9)
    expected = [int(ref_ids[np.random.default_rng(s).choice(len(ref_ids), p=ref_probs)]) for s in range(20)]
    assert drawn == expected
    assert choose_token(logits.copy(), [], 0, 0.1, 1.0, np.random.default_rng(0)) == int(np.argmax(logits))


def test_repetition_penalty_as_transformers_applies_it():
    logits = np.array([2.0, -2.0, 1.0, 0.5])
    apply_repetition_penalty(logits, [0, 1, 1], 2.0)
    assert logits.tolist() == [1.0, -4.0, 1.0, 0.5]
