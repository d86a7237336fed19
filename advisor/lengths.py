"""Token-length statistics of the data, for ``max_seq_length``.

Uses the base model's tokenizer (``fintune.models.load_tokenizer``) when it can be loaded without a
download, else estimates tokens as words × 1.3; the result says which.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass

import numpy as np

# Tokens the chat template adds around one prompt/completion pair (SmolLM2: system + role markers).
TEMPLATE_OVERHEAD = 32
WORDS_TO_TOKENS = 1.3
SAMPLE = 2000


@dataclass
class TokenStats:
    method: str  # "tokenizer:<name>" or "estimate: words x 1.3"
    sample: int
    prompt_p50: int
    prompt_p95: int
    completion_p50: int
    completion_p95: int
    completion_max: int
    total_p50: int
    total_p95: int
    total_p99: int
    total_max: int

    def to_dict(self) -> dict:
        return asdict(self)


def _tokenizer(base_model: str | None):
    """The base model's tokenizer if it is already on disk (never starts a download), else (None, why)."""
    from fintune import models

    name = models.requested_name(base_model)
    if name in models.BUILTIN_MODELS and not models.is_provisioned(name):
        return None, f"model '{name}' not provisioned yet (`fintune models pull`)"
    try:
        return models.load_tokenizer(name), None
    except Exception as exc:  # noqa: BLE001 - any loading failure falls back to the estimate
        return None, f"{type(exc).__name__}: {exc}"


def _q(values: list[int], q: float) -> int:
    """The observed value nearest the q-quantile (0 for no values)."""
    return int(np.percentile(values, q * 100, method="nearest")) if values else 0


def token_stats(inputs: list[str], outputs: list[str], base_model: str | None = None, use_tokenizer: bool = True, seed: int = 0) -> TokenStats:
    idx = list(range(len(inputs)))
    if len(idx) > SAMPLE:
        idx = sorted(random.Random(seed).sample(idx, SAMPLE))
    ins = [inputs[i] for i in idx]
    outs = [outputs[i] for i in idx]
    tok, why = _tokenizer(base_model) if use_tokenizer else (None, "tokenizer disabled")
    if tok is not None:
        p = [len(x) for x in tok(ins, add_special_tokens=False)["input_ids"]]
        c = [len(x) for x in tok(outs, add_special_tokens=False)["input_ids"]]
        method = f"tokenizer:{getattr(tok, 'name_or_path', 'base model')}"
    else:
        p = [max(1, round(len(x.split()) * WORDS_TO_TOKENS)) for x in ins]
        c = [max(1, round(len(x.split()) * WORDS_TO_TOKENS)) for x in outs]
        method = f"estimate: words x {WORDS_TO_TOKENS} ({why})"
    total = [a + b + TEMPLATE_OVERHEAD for a, b in zip(p, c)]
    return TokenStats(method=method, sample=len(idx), prompt_p50=_q(p, 0.5), prompt_p95=_q(p, 0.95),
                      completion_p50=_q(c, 0.5), completion_p95=_q(c, 0.95), completion_max=max(c, default=0),
                      total_p50=_q(total, 0.5), total_p95=_q(total, 0.95), total_p99=_q(total, 0.99), total_max=max(total, default=0))
