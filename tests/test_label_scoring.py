"""Label-aware answers: the batched, left-padded, prompt-cached scorer equals a plain full forward per label,
and the TRL internal the training speed-up relies on is still there and still used."""

from __future__ import annotations

import math

import pytest

from fintune.label_scoring import LabelScores, continuation_text, score_label_batch

LABELS = ["bearish", "bullish", "neutral"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from trainer.testing import tiny_model_dir

    folder = tiny_model_dir(tmp_path_factory.mktemp("tiny"))
    torch.manual_seed(0)
    return AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval(), AutoTokenizer.from_pretrained(folder)


def reference_logprob(model, tok, prompt_text: str, label: str) -> float:
    import torch

    cont = tok(continuation_text(tok, label), add_special_tokens=False)["input_ids"]
    ids = tok(prompt_text, add_special_tokens=False)["input_ids"] + cont
    with torch.no_grad():
        logp = torch.log_softmax(model(torch.tensor([ids])).logits.float()[0], -1)
    start = len(ids) - len(cont)
    return sum(float(logp[start - 1 + i, t]) for i, t in enumerate(cont))


def test_batched_scores_equal_the_full_forward_reference(tiny):
    model, tok = tiny
    texts = [tok.apply_chat_template([{"role": "system", "content": "Answer with one of: bearish, bullish, neutral."},
                                      {"role": "user", "content": t}], add_generation_prompt=True, tokenize=False)
             for t in ["Stocks soar", "Shares tumble after the bank cut its guidance for the year", "Board meets"]]
    scores = score_label_batch(model, tok, texts, LABELS, batch_size=2)  # uneven lengths + a partial last batch
    for text, got in zip(texts, scores):
        want = [reference_logprob(model, tok, text, label) for label in LABELS]
        assert got.logprobs == pytest.approx(want, abs=1e-4)
        assert got.best == LABELS[max(range(3), key=lambda i: want[i])]
        assert sum(got.probs.values()) == pytest.approx(1.0)


def test_scores_through_a_lora_adapter_equal_the_full_forward(tiny):
    """Chat and evaluation score through PEFT's wrapper, which must hand the repeated prompt cache to the base model."""
    import torch
    from peft import LoraConfig, get_peft_model

    model, tok = tiny
    torch.manual_seed(1)
    tuned = get_peft_model(model, LoraConfig(r=4, target_modules="all-linear", init_lora_weights=False)).eval()
    try:
        texts = [tok.apply_chat_template([{"role": "user", "content": t}], add_generation_prompt=True, tokenize=False)
                 for t in ["Stocks soar on strong guidance", "Board meets"]]
        for text, got in zip(texts, score_label_batch(tuned, tok, texts, LABELS, batch_size=2)):
            assert got.logprobs == pytest.approx([reference_logprob(tuned, tok, text, label) for label in LABELS], abs=1e-4)
    finally:
        tuned.unload()  # the module-scoped base model stays plain for the other tests


def test_continuation_is_the_training_target(tiny):
    _, tok = tiny
    assert continuation_text(tok, "bullish") == "bullish<|im_end|>"


def test_probabilities_are_a_softmax_over_labels():
    scores = LabelScores(["a", "b"], [math.log(0.2), math.log(0.6)])
    assert scores.best == "b" and scores.probs["b"] == pytest.approx(0.75)


def test_compact_lm_head_switch_is_still_the_one_trl_consults():
    """trainer.fast patches ``trl.trainer.utils._use_triton``; if TRL renames or stops consulting it, the
    speed-up would silently vanish, so check both that it exists and that the fused head honours it."""
    import torch
    import trl.trainer.utils as trl_utils

    from trainer.fast import compact_lm_head

    assert callable(getattr(trl_utils, "_use_triton", None)), "TRL no longer has _use_triton: trainer/fast.py needs updating"
    cpu = torch.device("cpu")
    with compact_lm_head():
        assert trl_utils._use_triton(cpu) is True
    assert trl_utils._use_triton(cpu) is False  # restored
    import inspect

    source = inspect.getsource(trl_utils)
    assert "compact = _use_triton(hidden_states.device)" in source and "hidden_states[mask] if compact" in source
