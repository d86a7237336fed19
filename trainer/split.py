"""Deterministic train/validation split, recorded with the run.

Rows are grouped by their normalised prompt, so duplicates and conflicting answers to the same
prompt always land on the same side (no train/validation overlap). Groups are ordered by a seeded
hash, so the same data and seed always give the same split, independent of row order.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field

from trainer.data import Example
from trainer.errors import TrainerError


@dataclass
class SplitSpec:
    """How the held-out validation rows are chosen."""

    val_fraction: float = field(default=0.1, metadata={"help": "Fraction of rows held out for validation/evaluation."})
    min_val_rows: int = field(default=4, metadata={"help": "Fewest validation rows, whatever the fraction."})
    min_train_rows: int = field(default=4, metadata={"help": "Fewest training rows left after holding out validation."})
    seed: int = field(default=42, metadata={"help": "Seed of the split hash; same data + seed = same split."})

    def __post_init__(self) -> None:
        if not 0 < self.val_fraction < 0.5:
            raise TrainerError(f"val_fraction={self.val_fraction} is invalid: hold out between 1% and 50%, e.g. 0.1.")


@dataclass
class Split:
    train: list[Example]
    val: list[Example]
    spec: SplitSpec
    overlap: int = 0  # validation prompts also present in train (0 by construction)

    def info(self) -> dict:
        return {**asdict(self.spec), "method": "seeded hash of normalised prompt, grouped", "n_train": len(self.train),
                "n_val": len(self.val), "overlap": self.overlap}


def _key(prompt: str) -> str:
    return " ".join(prompt.split()).lower()


def split_examples(examples: list[Example], spec: SplitSpec | None = None) -> Split:
    spec = spec or SplitSpec()
    groups: dict[str, list[Example]] = {}
    for ex in examples:
        groups.setdefault(_key(ex.prompt), []).append(ex)
    if len(groups) < spec.min_val_rows + spec.min_train_rows:
        raise TrainerError(
            f"Only {len(groups)} distinct prompts; at least {spec.min_val_rows + spec.min_train_rows} are needed for a "
            "train/validation split. Add more varied rows."
        )
    ranked = sorted(groups, key=lambda k: hashlib.sha256(f"{spec.seed}:{k}".encode()).hexdigest())
    n_val_target = max(spec.min_val_rows, round(spec.val_fraction * len(examples)))
    val_keys: set[str] = set()
    n_val = 0
    for key in ranked:
        if n_val >= n_val_target or len(groups) - len(val_keys) <= spec.min_train_rows:
            break
        val_keys.add(key)
        n_val += len(groups[key])
    train = [ex for ex in examples if _key(ex.prompt) not in val_keys]
    val = [ex for ex in examples if _key(ex.prompt) in val_keys]
    overlap = len({_key(e.prompt) for e in val} & {_key(e.prompt) for e in train})
    return Split(train=train, val=val, spec=spec, overlap=overlap)
