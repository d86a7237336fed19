"""The built-in financial glossary (``rag/data/glossary.jsonl``), written by the FinTune team."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

from rag.entries import Entry

SOURCE = "builtin"
CATEGORIES = ("accounting", "corporate finance", "markets", "banking", "derivatives", "risk", "regulation")


def path() -> Path:
    return Path(__file__).resolve().parent / "data" / "glossary.jsonl"


@lru_cache(maxsize=1)
def checksum() -> str:
    return hashlib.sha256(path().read_bytes()).hexdigest()


def load() -> list[Entry]:
    """The built-in entries (source ``builtin``), validated by the same loader users' files go through."""
    from rag.loaders import load_file

    return load_file(path(), source=SOURCE).entries
