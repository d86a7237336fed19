"""Labelled example goals (anchors) and the signals they carry, loaded from package data once per process."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from advisor.config import APPROACHES
from advisor.errors import AdvisorError

ANCHOR_LABELS = APPROACHES + ("vague",)
DATA_DIR = Path(__file__).resolve().parent / "data"


@dataclass(frozen=True)
class Anchor:
    goal: str
    approach: str  # one of ANCHOR_LABELS
    signals: tuple[str, ...]


@dataclass(frozen=True)
class Signal:
    key: str
    side: str  # rag | finetune | prompt | vague
    name: str
    reason: str


def _read(name: str) -> str:
    try:
        return (DATA_DIR / name).read_text(encoding="utf-8")
    except OSError as exc:
        raise AdvisorError(f"Advisor package data `advisor/data/{name}` is missing ({exc}). Reinstall FinTune (`pip install -e .`).") from exc


@lru_cache(maxsize=1)
def signals() -> dict[str, Signal]:
    raw = json.loads(_read("signals.json"))
    return {key: Signal(key=key, **value) for key, value in raw.items()}


@lru_cache(maxsize=1)
def anchors() -> tuple[Anchor, ...]:
    known = signals()
    out = []
    for n, line in enumerate(_read("anchors.jsonl").splitlines(), 1):
        if not line.strip():
            continue
        row = json.loads(line)
        anchor = Anchor(goal=row["goal"], approach=row["approach"], signals=tuple(row.get("signals", ())))
        if anchor.approach not in ANCHOR_LABELS:
            raise AdvisorError(f"anchors.jsonl line {n}: approach {anchor.approach!r} is not one of {ANCHOR_LABELS}.")
        unknown = [s for s in anchor.signals if s not in known]
        if unknown:
            raise AdvisorError(f"anchors.jsonl line {n}: unknown signal(s) {unknown}; define them in signals.json.")
        out.append(anchor)
    return tuple(out)
