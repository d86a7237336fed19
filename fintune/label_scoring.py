"""Label-aware answers for classification: score each label's continuation by log-likelihood.

Instead of generating free text and hoping it names a label, the model scores every allowed answer after the
prompt — exactly the tokens it was trained to produce (the label, then the chat template's end-of-turn) — and
the best one wins. The softmax over the labels' sequence log-probabilities is the probability shown to the user.
Base and tuned models are scored the same way, so comparisons stay fair, and no answer can be "not a label".
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass
class LabelScores:
    """One prompt's scores: ``logprobs[label]`` (sequence log-likelihood) and ``probs[label]`` (softmax over labels)."""

    labels: list[str]
    logprobs: list[float]

    @property
    def probs(self) -> dict[str, float]:
        top = max(self.logprobs)
        weights = [math.exp(v - top) for v in self.logprobs]
        total = sum(weights)
        return {label: w / total for label, w in zip(self.labels, weights)}

    @property
    def best(self) -> str:
        return self.labels[max(range(len(self.labels)), key=lambda i: self.logprobs[i])]


def continuation_text(tokenizer, label: str) -> str:
    """What the chat template puts after the generation prompt for an assistant answer ``label`` (e.g.
    ``label<|im_end|>``): the training target, so the score covers the answer and its end of turn."""
    probe = [{"role": "user", "content": "x"}]
    prompt = tokenizer.apply_chat_template(probe, add_generation_prompt=True, tokenize=False)
    full = tokenizer.apply_chat_template([*probe, {"role": "assistant", "content": label}], tokenize=False)
    if full.startswith(prompt):
        tail = full[len(prompt):]
        eos = tokenizer.eos_token
        if eos and eos in tail:
            return tail[: tail.index(eos) + len(eos)]
        return tail.rstrip("\n")
    return label + (tokenizer.eos_token or "")


def score_label_batch(model, tokenizer, prompt_texts: list[str], labels: list[str], batch_size: int = 8) -> list[LabelScores]:
    """Sequence log-likelihood of each label after each (already chat-templated) prompt.

    All (prompt, label) pairs of a chunk go through one left-padded forward pass; only the last positions are
    projected through the LM head (``logits_to_keep``), since only the continuation tokens are scored."""
    import torch

    if not labels:
        raise ValueError("score_label_batch needs at least one label")
    conts = [tokenizer(continuation_text(tokenizer, lab), add_special_tokens=False)["input_ids"] for lab in labels]
    keep = max(len(c) for c in conts) + 1
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    out: list[LabelScores] = []
    for start in range(0, len(prompt_texts), batch_size):
        chunk = prompt_texts[start : start + batch_size]
        seqs = []
        for text in chunk:
            ids = tokenizer(text, add_special_tokens=False)["input_ids"]
            seqs += [ids + c for c in conts]
        width = max(len(s) for s in seqs)
        input_ids = torch.full((len(seqs), width), pad, dtype=torch.long)
        mask = torch.zeros((len(seqs), width), dtype=torch.long)
        for i, s in enumerate(seqs):
            input_ids[i, width - len(s):] = torch.tensor(s)
            mask[i, width - len(s):] = 1
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        device = model.device
        with torch.inference_mode():
            logits = model(input_ids=input_ids.to(device), attention_mask=mask.to(device), position_ids=positions.to(device),
                           logits_to_keep=keep, use_cache=False).logits
        logp = torch.log_softmax(logits.float(), dim=-1)  # [rows, keep, vocab]; position j predicts token (width-keep+j+1)
        for p in range(len(chunk)):
            scores = []
            for li, cont in enumerate(conts):
                row = p * len(conts) + li
                first = keep - 1 - len(cont)  # logits index predicting the first continuation token
                idx = torch.arange(first, first + len(cont), device=logp.device)
                tok = torch.tensor(cont, device=logp.device)
                scores.append(float(logp[row, idx, tok].sum()))
            out.append(LabelScores(list(labels), scores))
    return out
