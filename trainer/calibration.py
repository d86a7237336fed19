"""Measured training speed on this machine, for the plan's wall-time estimate shown before Start.

The calibration is the tokens/s of the newest completed run of the same base model on the same kind of
device (read from its ``metrics.json``, written by the job from TRL's token count). Before any run has
finished, it is the figure measured here: SmolLM2-135M-Instruct, bf16 LoRA with both trainer speed-ups, on the
2-core CPU this project is built on (steady state of the advisor's tweet plan in ``benchmarks/finetune_quality.py``;
short windows reach 260 tokens/s, a full 1,000-step run averaged about 175).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

DEFAULT_CPU_TOKENS_PER_S = 175.0
DEFAULT_GPU_TOKENS_PER_S = 5000.0
EVAL_FORWARD_SHARE = 1 / 3  # a forward-only pass costs about a third of a training step (forward + backward)
STARTUP_S = 20.0  # load the model, tokenize, build the trainer


@dataclass
class Calibration:
    tokens_per_s: float
    source: str


def training_speed(base_model: str, device: str) -> Calibration:
    try:
        from trainer import registry

        runs = registry.list_runs(status=registry.RunStatus.COMPLETED)
    except Exception:  # noqa: BLE001 - no runs folder yet, unreadable runs: fall back to the measured default
        runs = []
    for run in runs:
        if run.base_model != base_model or (run.record or {}).get("device", "cpu") != device:
            continue
        try:
            metrics = json.loads((run.run_dir / "metrics.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        tps = metrics.get("train_tokens_per_s")
        if tps and all((metrics.get("speedups") or {}).values()):
            return Calibration(float(tps), f"measured by your run {run.name} ({tps:.0f} tokens/s)")
    default = DEFAULT_GPU_TOKENS_PER_S if device == "cuda" else DEFAULT_CPU_TOKENS_PER_S
    return Calibration(default, f"{default:.0f} tokens/s, measured for this model on a 2-core CPU (no run of yours finished yet)")


def estimate_seconds(n_train: int, epochs: float, tokens_per_row: float, eval_passes: int, eval_rows: int,
                     speed: Calibration) -> dict[str, float]:
    """Wall-time estimate of a training run: training steps, bounded validation passes, start-up."""
    train_s = n_train * epochs * tokens_per_row / speed.tokens_per_s
    val_s = eval_passes * eval_rows * tokens_per_row / (speed.tokens_per_s / EVAL_FORWARD_SHARE)
    return {"train_s": round(train_s), "validation_s": round(val_s), "startup_s": STARTUP_S,
            "total_s": round(train_s + val_s + STARTUP_S)}
