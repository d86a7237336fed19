"""Building the glossary index on disk: embed, index, publish; recover a broken index; refresh the built-in entries.

Module-level functions, used by ``Glossary`` before an instance exists (on open) and under the writer lock.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Callable, Iterable

from rag import builtin, store
from rag.config import RagConfig
from rag.encoder import Encoder, canonical_name
from rag.entries import Entry
from rag.retrieval import surface_keys
from rag.text import norm

log = logging.getLogger(__name__)
Progress = Callable[[int, int, str], None]


def index_meta(config: RagConfig, dim: int, kind: str, reason: str, sources: dict[str, Any]) -> dict[str, Any]:
    return {
        "format_version": store.FORMAT_VERSION,
        "encoder": canonical_name(config.encoder),
        "dim": int(dim),
        "index_type": kind,
        "index_reason": reason,
        "hnsw_ef_search": config.hnsw_ef_search,
        "builtin_checksum": builtin.checksum(),
        "sources": sources,
    }


def term_surfaces(entries: Iterable[Entry], known: set[str]) -> dict[str, str]:
    """Normalised key -> text to embed, for every term/synonym not yet in the term cache."""
    out: dict[str, str] = {}
    for e in entries:
        for text in (e.term, *e.synonyms):
            key = norm(text)
            if key and key not in known and key not in out and surface_keys(text):
                out[key] = text
    return out


def extend_term_cache(encoder: Encoder, config: RagConfig, keys: list[str], vectors, new: list[Entry], progress: Progress | None):
    import numpy as np

    todo = term_surfaces(new, set(keys))
    if not todo:
        return list(keys), vectors
    fresh = encoder.encode(list(todo.values()), config.batch_size, progress, "Embedding terms")
    base = vectors if len(keys) else np.zeros((0, fresh.shape[1]), dtype="float32")
    return list(keys) + list(todo), np.vstack([base, fresh])


def build(root: Path, config: RagConfig, entries: list[Entry], sources: dict[str, Any], progress: Progress | None,
           vectors=None) -> store.IndexData:
    """Embed (unless ``vectors`` are given), index and publish ``entries`` as a new version. Call under the writer lock."""
    import numpy as np

    encoder = Encoder.shared(config.encoder)
    if vectors is None:
        vectors = encoder.encode([e.embed_text() for e in entries], config.batch_size, progress, "Embedding entries")
    index, kind, reason = store.make_index(vectors, flat_max=config.flat_max, hnsw_m=config.hnsw_m, hnsw_ef_search=config.hnsw_ef_search)
    keys, term_vecs = extend_term_cache(encoder, config, [], np.zeros((0, vectors.shape[1]), dtype="float32"), entries, progress)
    data = store.IndexData(entries, index, keys, term_vecs)
    store.publish(root, data, index_meta(config, vectors.shape[1], kind, reason, sources))
    return data


def recover(root: Path, config: RagConfig, reason: str, progress: Progress | None) -> tuple[store.IndexData, str]:
    """Build a trustworthy index after ``reason``: from intact stored entries if any, else from the built-in glossary."""
    first_use = reason.startswith("no index")
    candidates = [p for p in [store.current_dir(root)] if p is not None and p.is_dir()]
    candidates += sorted((p for p in root.glob("v-*") if p.is_dir() and p not in candidates), key=lambda p: p.name, reverse=True)
    lost: list[str] = []
    for path in candidates:
        try:
            meta = store.read_meta(path)
            stored = store.read_entries(path, meta)
        except (store.IndexCorrupt, ValueError, KeyError, TypeError):
            continue
        imported = [e for e in stored if e.source != builtin.SOURCE]
        data = build(root, config, builtin.load() + imported, dict(meta.get("sources") or {}), progress)
        return data, (f"The knowledge-base index could not be used ({reason}); it was rebuilt from its "
                      f"{len(data.entries)} stored entries with encoder {canonical_name(config.encoder)!r}.")
    for path in candidates:
        try:
            lost += [s for s in (store.read_meta(path).get("sources") or {}) if s not in lost]
        except store.IndexCorrupt:
            pass
    data = build(root, config, builtin.load(), {}, progress)
    if first_use:
        log.info("Built the glossary index from %d built-in definitions in %s", len(data.entries), root)
        return data, ""
    hint = f" Imported sources were lost: {', '.join(lost)}; import those files again with `fintune kb import FILE`." if lost else \
        " Any imported glossaries were lost; import them again with `fintune kb import FILE`."
    return data, f"The knowledge-base index could not be used ({reason}) and its entries were unreadable, so it was rebuilt from the built-in glossary.{hint}"


def refresh_builtin(root: Path, config: RagConfig, data: store.IndexData, progress: Progress | None) -> store.IndexData:
    """Replace the built-in entries with the current data file, keeping imported entries and their vectors."""
    import numpy as np

    fresh = builtin.load()
    keep = [i for i, e in enumerate(data.entries) if e.source != builtin.SOURCE]
    encoder = Encoder.shared(config.encoder)
    new_vecs = encoder.encode([e.embed_text() for e in fresh], config.batch_size, progress, "Embedding entries")
    kept_vecs = np.vstack([data.index.reconstruct(i) for i in keep]) if keep else np.zeros((0, new_vecs.shape[1]), dtype="float32")
    entries = fresh + [data.entries[i] for i in keep]
    return build(root, config, entries, dict(data.meta.get("sources") or {}), progress, vectors=np.vstack([new_vecs, kept_vecs]))
