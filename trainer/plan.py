"""The training plan: one typed config the advisor writes and the trainer consumes.

Every field carries help text; ``reasons`` maps a field name to the one-line reason the advisor
chose its value. ``to_lora_config()`` / ``to_sft_config()`` turn the plan into PEFT / TRL objects.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from trainer.errors import TrainerError
from trainer.split import SplitSpec

OPTIMIZERS = ("adamw", "adafactor", "lion", "sgd")
SCHEDULERS = ("constant", "constant_with_warmup", "cosine", "cosine_with_restarts", "linear")
QUANTIZATIONS = ("none", "nf4")
DTYPES = ("bfloat16", "float16", "float32")
CHOICES = {"optimizer": OPTIMIZERS, "lr_scheduler": SCHEDULERS, "quantization": QUANTIZATIONS, "compute_dtype": DTYPES}
FORM_HIDDEN = ("reasons", "memory_estimate", "time_estimate")  # set by the advisor, not edited in a form

# Our optimizer names -> transformers' ``optim`` strings. Lion comes from bitsandbytes (8-bit state).
_HF_OPTIM = {"adamw": "adamw_torch", "adafactor": "adafactor", "lion": "lion_8bit", "sgd": "sgd"}


@dataclass
class TrainPlan:
    """How to fine-tune. Defaults are sensible for the default 135M model on a laptop CPU."""

    base_model: str = field(default="smollm2-135m-instruct", metadata={"help": "Base model: built-in alias, Hugging Face id or local folder."})
    optimizer: str = field(default="adamw", metadata={"help": f"One of {OPTIMIZERS}. AdamW by default; Adafactor when memory is tight; SGD mainly for RL."})
    learning_rate: float = field(default=2e-4, metadata={"help": "Peak learning rate. ~1e-4 for full AdamW; LoRA tolerates 1e-4..3e-4."})
    weight_decay: float = field(default=0.01, metadata={"help": "Decoupled weight decay (AdamW)."})
    lr_scheduler: str = field(default="cosine", metadata={"help": f"One of {SCHEDULERS}."})
    warmup_ratio: float = field(default=0.05, metadata={"help": "Fraction of steps spent warming the LR up from 0."})
    num_epochs: float = field(default=3.0, metadata={"help": "Passes over the training split."})
    per_device_batch_size: int = field(default=8, metadata={"help": "Examples per forward pass."})
    gradient_accumulation_steps: int = field(default=1, metadata={"help": "Forward passes per optimizer step; effective batch = batch size x this."})
    gradient_checkpointing: bool = field(default=False, metadata={"help": "Recompute activations in the backward pass: less memory, ~30% slower."})
    quantization: str = field(default="none", metadata={"help": f"One of {QUANTIZATIONS}: 'nf4' loads the base in 4-bit NF4 (QLoRA, bitsandbytes)."})
    compute_dtype: str = field(default="bfloat16", metadata={"help": f"One of {DTYPES}: dtype of the base weights / 4-bit compute."})
    label_smoothing: float = field(default=0.0, metadata={"help": "Label smoothing factor in [0, 0.3]; helps calibration on classification-like or noisy labels."})
    neftune_noise_alpha: float | None = field(default=None, metadata={"help": "NEFTune embedding-noise alpha (e.g. 5); helps small instruction datasets. None = off."})
    lora_r: int = field(default=16, metadata={"help": "LoRA rank."})
    lora_alpha: int = field(default=32, metadata={"help": "LoRA scaling alpha (commonly 2 x rank)."})
    lora_dropout: float = field(default=0.05, metadata={"help": "Dropout on the LoRA path."})
    lora_target_modules: list[str] | str = field(default="all-linear", metadata={"help": "Modules to adapt: 'all-linear' or a list such as ['q_proj','v_proj']."})
    max_seq_length: int = field(default=512, metadata={"help": "Longest example in tokens; longer rows are reported by validation and truncated."})
    val_fraction: float = field(default=SplitSpec.val_fraction, metadata={"help": "Held-out fraction for validation/evaluation (deterministic split)."})
    max_steps: int = field(default=-1, metadata={"help": "Stop after this many optimizer steps (-1 = run all epochs). For quick trials."})
    logging_steps: int = field(default=5, metadata={"help": "Log loss every N steps."})
    eval_steps: int = field(default=50, metadata={"help": "Compute the validation loss every N steps."})
    eval_loss_rows: int = field(default=64, metadata={"help": "Validation rows used for the validation loss during training (a bounded subset keeps each pass cheap; the task evaluation after training uses the whole held-out split)."})
    save_steps: int = field(default=50, metadata={"help": "Write a resumable checkpoint every N steps."})
    seed: int = field(default=SplitSpec.seed, metadata={"help": "Random seed for split, init and shuffling."})
    reasons: dict[str, str] = field(default_factory=dict, metadata={"help": "Field name -> one-line reason for its value."})
    train_rows: int | None = field(default=None, metadata={"help": "Train on at most this many rows: a deterministic random sample of the training split, e.g. to fit a time budget. None = all rows."})
    memory_estimate: dict[str, Any] | None = field(default=None, metadata={"help": "Estimated peak memory breakdown (GiB) vs. available."})
    time_estimate: dict[str, Any] | None = field(default=None, metadata={"help": "Estimated wall time on this machine (seconds per part) and the speed calibration it rests on."})

    def __post_init__(self) -> None:
        self.validate()

    # ----- validation at the boundary -------------------------------------------------
    def validate(self) -> "TrainPlan":
        def bad(name: str, why: str) -> TrainerError:
            return TrainerError(f"Plan field `{name}`={getattr(self, name)!r} is invalid: {why}.")

        for name, allowed in CHOICES.items():
            if getattr(self, name) not in allowed:
                raise bad(name, f"choose one of {', '.join(allowed)}")
        if not 0 < self.learning_rate < 1:
            raise bad("learning_rate", "use a value such as 1e-4 (between 0 and 1)")
        if not 0 <= self.warmup_ratio < 1:
            raise bad("warmup_ratio", "use a fraction in [0, 1)")
        if not 0 <= self.label_smoothing <= 0.3:
            raise bad("label_smoothing", "use 0 (off) up to 0.3")
        self.split_spec()  # SplitSpec owns the val_fraction check
        for name in ("per_device_batch_size", "gradient_accumulation_steps", "lora_r", "lora_alpha", "max_seq_length", "logging_steps", "eval_steps", "save_steps", "eval_loss_rows"):
            if int(getattr(self, name)) < 1:
                raise bad(name, "must be a positive whole number")
        if self.num_epochs <= 0:
            raise bad("num_epochs", "must be positive, e.g. 3")
        if self.train_rows is not None and int(self.train_rows) < 1:
            raise bad("train_rows", "use a positive number of rows, or leave empty to train on all of them")
        if self.neftune_noise_alpha is not None and self.neftune_noise_alpha <= 0:
            raise bad("neftune_noise_alpha", "use a positive alpha such as 5, or leave empty to disable")
        return self

    # ----- (de)serialisation ----------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainPlan":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise TrainerError(f"Unknown plan field(s) {unknown}. Known fields: {sorted(known)}.")
        return cls(**data)

    @classmethod
    def load(cls, path: str | Path) -> "TrainPlan":
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise TrainerError(f"Could not read plan file {path}: {exc}. Pass a JSON file written by `fintune advise --json` (its `plan`).") from exc
        return cls.from_dict(data.get("plan", data) if isinstance(data.get("plan"), dict) else data)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2), encoding="utf-8")

    # ----- form <-> plan (the Train tab's controls, `fintune train --set`) ---------------
    @classmethod
    def form_fields(cls) -> list:
        """The fields a user edits (not the advisor's reasons or memory estimate), in declaration order."""
        return [f for f in fields(cls) if f.name not in FORM_HIDDEN]

    def to_form(self) -> dict[str, Any]:
        """Field -> the value a form shows: target modules as comma-separated text, NEFTune off as 0."""
        out: dict[str, Any] = {}
        for f in self.form_fields():
            value = getattr(self, f.name)
            if f.name == "lora_target_modules" and not isinstance(value, str):
                value = ", ".join(value)
            elif f.name == "neftune_noise_alpha":
                value = value or 0
            out[f.name] = value
        return out

    @classmethod
    def from_user_input(cls, values: dict[str, Any], reasons: dict[str, str] | None = None) -> "TrainPlan":
        """Form values (numbers as floats, target modules as text, NEFTune 0 = off) -> a validated plan."""
        data: dict[str, Any] = {}
        int_fields = {f.name for f in fields(cls) if "int" in str(f.type) and "float" not in str(f.type)}
        for name, value in values.items():
            if name == "lora_target_modules" and not isinstance(value, list):
                text = str(value or "").strip()
                value = "all-linear" if text in ("", "all-linear") else [t.strip() for t in text.split(",") if t.strip()]
            elif name in ("neftune_noise_alpha", "train_rows"):  # empty / 0 in a form = off / all rows
                value = (float(value) if name == "neftune_noise_alpha" else int(value)) if value else None
            elif name in int_fields and isinstance(value, float) and value.is_integer():
                value = int(value)
            data[name] = value
        data["reasons"] = dict(reasons or {})
        return cls.from_dict(data)

    @classmethod
    def help(cls) -> dict[str, str]:
        return {f.name: f.metadata.get("help", "") for f in fields(cls)}

    def split_spec(self) -> SplitSpec:
        """How this plan holds out validation rows."""
        return SplitSpec(val_fraction=self.val_fraction, seed=self.seed)

    @property
    def effective_batch_size(self) -> int:
        return self.per_device_batch_size * self.gradient_accumulation_steps

    # ----- library objects --------------------------------------------------------------
    def to_lora_config(self):
        from peft import LoraConfig

        return LoraConfig(
            r=self.lora_r,
            lora_alpha=self.lora_alpha,
            lora_dropout=self.lora_dropout,
            target_modules=self.lora_target_modules,
            task_type="CAUSAL_LM",
        )

    def to_bnb_config(self):
        """BitsAndBytesConfig for QLoRA, or None when the plan keeps the base unquantized."""
        if self.quantization != "nf4":
            return None
        import torch
        from transformers import BitsAndBytesConfig

        return BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=getattr(torch, self.compute_dtype),
        )

    def sft_config_kwargs(self) -> dict[str, Any]:
        """Plan fields as ``SFTConfig`` keyword arguments (no output_dir)."""
        return dict(
            optim=_HF_OPTIM[self.optimizer],
            learning_rate=self.learning_rate,
            weight_decay=self.weight_decay,
            lr_scheduler_type=self.lr_scheduler,
            # transformers 5 folded warmup_ratio into warmup_steps: a float in [0, 1) is a ratio of total steps
            warmup_steps=self.warmup_ratio,
            num_train_epochs=self.num_epochs,
            max_steps=self.max_steps,
            per_device_train_batch_size=self.per_device_batch_size,
            per_device_eval_batch_size=self.per_device_batch_size,
            gradient_accumulation_steps=self.gradient_accumulation_steps,
            gradient_checkpointing=self.gradient_checkpointing,
            label_smoothing_factor=self.label_smoothing,
            neftune_noise_alpha=self.neftune_noise_alpha,
            max_length=self.max_seq_length,
            logging_steps=self.logging_steps,
            eval_steps=self.eval_steps,
            save_steps=self.save_steps,
            seed=self.seed,
            bf16=self.compute_dtype == "bfloat16",
            fp16=self.compute_dtype == "float16",
        )

    def to_sft_config(self, output_dir: str | Path, **overrides: Any):
        from trl import SFTConfig

        kwargs = self.sft_config_kwargs()
        kwargs.update(overrides)
        return SFTConfig(output_dir=str(output_dir), **kwargs)
