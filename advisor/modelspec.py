"""The base model's shape — what the memory estimate and LoRA sizing need — without loading weights.

Read from the model folder's ``config.json`` when the model is already on disk (never triggers a
download), else from a small built-in table of known models.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from advisor.errors import AdvisorError


@dataclass(frozen=True)
class ModelSpec:
    name: str
    hidden: int
    layers: int
    heads: int
    kv_heads: int
    intermediate: int
    vocab: int
    tied_embeddings: bool = True
    max_positions: int = 8192

    @property
    def head_dim(self) -> int:
        return self.hidden // self.heads

    @property
    def kv_dim(self) -> int:
        return self.kv_heads * self.head_dim

    @property
    def params(self) -> int:
        """Parameter count of a Llama-style decoder."""
        h, i = self.hidden, self.intermediate
        per_layer = 2 * h * h + 2 * h * self.kv_dim + 3 * h * i + 2 * h
        emb = self.vocab * h * (1 if self.tied_embeddings else 2)
        return emb + self.layers * per_layer + h

    @property
    def embedding_params(self) -> int:
        return self.vocab * self.hidden * (1 if self.tied_embeddings else 2)

    def lora_params(self, r: int, targets: list[str] | str = "all-linear") -> int:
        h, i, kv = self.hidden, self.intermediate, self.kv_dim
        shapes = {"q_proj": (h, h), "k_proj": (h, kv), "v_proj": (h, kv), "o_proj": (h, h),
                  "gate_proj": (h, i), "up_proj": (h, i), "down_proj": (i, h)}
        names = list(shapes) if targets == "all-linear" else [t for t in targets if t in shapes]
        return self.layers * sum(r * (a + b) for a, b in (shapes[n] for n in names))

    def to_dict(self) -> dict:
        d = asdict(self)
        d["params"] = self.params
        return d


KNOWN: dict[str, ModelSpec] = {
    "smollm2-135m-instruct": ModelSpec("smollm2-135m-instruct", 576, 30, 9, 3, 1536, 49152, True),
    "HuggingFaceTB/SmolLM2-135M-Instruct": ModelSpec("HuggingFaceTB/SmolLM2-135M-Instruct", 576, 30, 9, 3, 1536, 49152, True),
    "HuggingFaceTB/SmolLM2-360M-Instruct": ModelSpec("HuggingFaceTB/SmolLM2-360M-Instruct", 960, 32, 15, 5, 2560, 49152, True),
    "HuggingFaceTB/SmolLM2-1.7B-Instruct": ModelSpec("HuggingFaceTB/SmolLM2-1.7B-Instruct", 2048, 24, 32, 32, 8192, 49152, True),
    "Qwen/Qwen2.5-7B-Instruct": ModelSpec("Qwen/Qwen2.5-7B-Instruct", 3584, 28, 28, 4, 18944, 152064, False, 32768),
}


def from_config(path: str | Path, name: str | None = None) -> ModelSpec:
    cfg = json.loads(Path(path).read_text(encoding="utf-8"))
    try:
        return ModelSpec(
            name=name or str(Path(path).parent),
            hidden=int(cfg["hidden_size"]), layers=int(cfg["num_hidden_layers"]), heads=int(cfg["num_attention_heads"]),
            kv_heads=int(cfg.get("num_key_value_heads") or cfg["num_attention_heads"]),
            intermediate=int(cfg["intermediate_size"]), vocab=int(cfg["vocab_size"]),
            tied_embeddings=bool(cfg.get("tie_word_embeddings", False)), max_positions=int(cfg.get("max_position_embeddings", 2048)),
        )
    except KeyError as exc:
        raise AdvisorError(f"{path} lacks {exc}; the advisor sizes Llama-style decoder models only. Pick such a base model.") from exc


def spec_for(base_model: str | None = None) -> ModelSpec:
    """Spec of the base model, from disk when present (no download), else the built-in table."""
    from fintune import models

    name = models.requested_name(base_model)
    local = models.model_dir(name) if name in models.BUILTIN_MODELS else Path(name).expanduser()
    if (local / "config.json").is_file():
        return from_config(local / "config.json", name)
    if name in KNOWN:
        return KNOWN[name]
    raise AdvisorError(
        f"The advisor does not know the shape of base model '{name}' and it is not on disk. Pass a local model folder, "
        f"or one of: {', '.join(KNOWN)}."
    )
