"""Shared fixtures: the real base model (provisioned once into the user's cache), shared data, temp homes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"

# Tests never reach a model hub; fail fast instead of waiting on the network.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
USER_FINTUNE_HOME = os.environ.get("FINTUNE_HOME")  # before any test points it at a temp dir


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA} (CI lays it beside the clone)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def real_model_path() -> str:
    """Folder of the real default base model, provisioned into the user's cache once (not a temp home)."""
    from fintune.models import resolve_base_model

    current = os.environ.pop("FINTUNE_HOME", None)
    if USER_FINTUNE_HOME:
        os.environ["FINTUNE_HOME"] = USER_FINTUNE_HOME
    try:
        return resolve_base_model(None)
    finally:
        os.environ.pop("FINTUNE_HOME", None)
        if current is not None:
            os.environ["FINTUNE_HOME"] = current


@pytest.fixture
def tmp_home(tmp_path, monkeypatch) -> Path:
    """A fresh, empty $FINTUNE_HOME for one test."""
    home = tmp_path / "fintune-home"
    monkeypatch.setenv("FINTUNE_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def builtin_kb(tmp_path_factory) -> Path:
    """The built-in glossary index, built once per test session; tests that change it copy the folder first."""
    from rag import Glossary

    root = tmp_path_factory.getbasetemp() / "rag-builtin-kb"
    if not (root / "CURRENT").exists():
        Glossary.open(root)
    return root
