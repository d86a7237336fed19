"""Where FinTune keeps its files: everything lives under ``$FINTUNE_HOME`` (default ``~/.cache/fintune``)."""

from __future__ import annotations

import os
from pathlib import Path


def home() -> Path:
    """The FinTune home directory, created on first use. Read on every call so tests can point it elsewhere."""
    root = Path(os.environ.get("FINTUNE_HOME") or Path.home() / ".cache" / "fintune").expanduser()
    root.mkdir(parents=True, exist_ok=True)
    return root


def models_dir() -> Path:
    return _sub("models")


def runs_dir() -> Path:
    return _sub("runs")


def kb_dir() -> Path:
    return _sub("kb")


def uploads_dir() -> Path:
    return _sub("uploads")


def _sub(name: str) -> Path:
    path = home() / name
    path.mkdir(parents=True, exist_ok=True)
    return path
