"""The on-disk index: one directory per version, published atomically, verified on load.

Layout under the knowledge-base folder (``$FINTUNE_HOME/kb``)::

    CURRENT                 name of the live version directory (replaced atomically)
    v-<time>-<id>/
        index.faiss         FAISS index (flat or HNSW, inner product on unit vectors)
        entries.jsonl       one Entry per line, row i = vector i
        term_keys.json      normalised terms/synonyms whose vectors are pre-computed ...
        term_vectors.npy    ... so definition look-ups need no encoder call
        meta.json           encoder, dimension, index type, versions, counts, sources, sha256 of every file

Writers build a new version in a temporary directory, rename it into place and then swap ``CURRENT``,
so a reader always sees a complete version. A reader that finds a checksum, count or dimension mismatch
raises ``IndexCorrupt`` - the caller rebuilds; a damaged index is never used.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import time
import uuid
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Iterator

from filelock import FileLock, Timeout

from rag.entries import Entry
from rag.errors import RagError

FORMAT_VERSION = 1
FILES = ("index.faiss", "entries.jsonl", "term_keys.json", "term_vectors.npy")
KEEP_VERSIONS = 2  # the live one and its predecessor (a reader may still be loading it)


class IndexCorrupt(RagError):
    """The stored index is missing, damaged or does not match the configuration; it must be rebuilt."""


@dataclass
class IndexData:
    entries: list[Entry]
    index: Any  # faiss.Index
    term_keys: list[str]
    term_vectors: Any  # np.ndarray (n_terms, dim)
    meta: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None


def versions() -> dict[str, str]:
    out = {"format": str(FORMAT_VERSION)}
    for dist in ("fintune", "faiss-cpu", "sentence-transformers", "numpy"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "unknown"
    return out


# ----- index type ---------------------------------------------------------------------------------
def make_index(vectors, *, flat_max: int, hnsw_m: int = 32, hnsw_ef_search: int = 128):
    """A FAISS inner-product index sized to the data: exact (flat) up to ``flat_max`` vectors, HNSW above."""
    import faiss

    n, dim = vectors.shape
    if n <= flat_max:
        index = faiss.IndexFlatIP(dim)
        kind, reason = "flat", f"{n} entries <= {flat_max}: exact search is fast enough"
    else:
        index = faiss.IndexHNSWFlat(dim, hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
        index.hnsw.efSearch = hnsw_ef_search
        kind, reason = "hnsw", f"{n} entries > {flat_max}: approximate HNSW (M={hnsw_m}, efSearch={hnsw_ef_search}) keeps queries fast"
    if n:
        index.add(vectors)
    return index, kind, reason


def index_kind(index) -> str:
    import faiss

    return "hnsw" if isinstance(index, faiss.IndexHNSW) else "flat"


def all_vectors(index):
    """Every stored vector (flat and HNSW-flat indexes keep them uncompressed)."""
    import numpy as np

    if index.ntotal == 0:
        return np.zeros((0, index.d), dtype="float32")
    return index.reconstruct_n(0, index.ntotal)


# ----- paths and locking --------------------------------------------------------------------------
def current_dir(root: Path) -> Path | None:
    pointer = root / "CURRENT"
    try:
        name = pointer.read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return root / name if name else None


@contextlib.contextmanager
def writer_lock(root: Path, timeout: float = 600.0) -> Iterator[None]:
    """One writer at a time across processes (readers never wait)."""
    root.mkdir(parents=True, exist_ok=True)
    try:
        with FileLock(root / ".lock", timeout=timeout):
            yield
    except Timeout:
        raise RagError(f"Another FinTune process has been writing the knowledge base in {root} for {timeout:.0f}s. Wait for it to finish, then retry.") from None


# ----- save / load ----------------------------------------------------------------------------------
def _sha256(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _combined(files: dict[str, dict[str, Any]]) -> str:
    return hashlib.sha256("".join(f"{k}:{files[k]['sha256']};" for k in sorted(files)).encode()).hexdigest()


def publish(root: Path, data: IndexData, meta: dict[str, Any]) -> Path:
    """Write ``data`` as a new version and make it live atomically. Call under ``writer_lock``."""
    import faiss
    import numpy as np

    root.mkdir(parents=True, exist_ok=True)
    name = f"v-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}"
    tmp = root / f".tmp-{name}"
    tmp.mkdir()
    try:
        faiss.write_index(data.index, str(tmp / "index.faiss"))
        with open(tmp / "entries.jsonl", "w", encoding="utf-8") as fh:
            for entry in data.entries:
                fh.write(json.dumps(entry.to_dict(), ensure_ascii=False) + "\n")
        (tmp / "term_keys.json").write_text(json.dumps(data.term_keys, ensure_ascii=False), encoding="utf-8")
        with open(tmp / "term_vectors.npy", "wb") as fh:
            np.save(fh, np.ascontiguousarray(data.term_vectors, dtype="float32"))
        files = {f: {"sha256": _sha256(tmp / f), "bytes": (tmp / f).stat().st_size} for f in FILES}
        meta = dict(meta, count=len(data.entries), files=files, checksum=_combined(files), versions=versions(),
                    built_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2, ensure_ascii=False), encoding="utf-8")
        for f in (*FILES, "meta.json"):
            with open(tmp / f, "rb") as fh:
                os.fsync(fh.fileno())
        final = root / name
        os.replace(tmp, final)
        pointer_tmp = root / f".CURRENT-{uuid.uuid4().hex[:8]}"
        pointer_tmp.write_text(name + "\n", encoding="utf-8")
        os.replace(pointer_tmp, root / "CURRENT")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    data.meta, data.path = meta, final
    _cleanup(root, keep=final)
    return final


def _cleanup(root: Path, keep: Path) -> None:
    versions_ = sorted((p for p in root.glob("v-*") if p.is_dir()), key=lambda p: p.name)
    old = [p for p in versions_ if p != keep][: max(len(versions_) - KEEP_VERSIONS, 0)]
    for path in old:
        shutil.rmtree(path, ignore_errors=True)
    for path in root.glob(".tmp-*"):
        with contextlib.suppress(OSError):
            if time.time() - path.stat().st_mtime > 3600:
                shutil.rmtree(path, ignore_errors=True)


def read_meta(path: Path) -> dict[str, Any]:
    try:
        meta = json.loads((path / "meta.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise IndexCorrupt(f"meta.json in {path} is missing or unreadable ({exc.__class__.__name__})") from None
    if not isinstance(meta, dict):
        raise IndexCorrupt(f"meta.json in {path} is not a JSON object")
    return meta


def verify_file(path: Path, meta: dict[str, Any], name: str) -> None:
    info = (meta.get("files") or {}).get(name)
    target = path / name
    if not info or not target.is_file():
        raise IndexCorrupt(f"{name} is missing from {path}")
    if target.stat().st_size != info.get("bytes") or _sha256(target) != info.get("sha256"):
        raise IndexCorrupt(f"{name} in {path} does not match its checksum (damaged or edited)")


def read_entries(path: Path, meta: dict[str, Any]) -> list[Entry]:
    verify_file(path, meta, "entries.jsonl")
    entries = []
    with open(path / "entries.jsonl", encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                entries.append(Entry.from_dict(json.loads(line)))
    return entries


def load(root: Path, *, encoder: str | None = None) -> IndexData:
    """The live version, fully verified. Raises ``IndexCorrupt`` with the reason when it cannot be trusted."""
    import faiss
    import numpy as np

    path = current_dir(root)
    if path is None:
        raise IndexCorrupt(f"no index in {root}")
    if not path.is_dir():
        raise IndexCorrupt(f"CURRENT points to {path.name}, which does not exist")
    meta = read_meta(path)
    if meta.get("format_version") != FORMAT_VERSION:
        raise IndexCorrupt(f"index format {meta.get('format_version')!r} is not the supported format {FORMAT_VERSION}")
    if encoder is not None and meta.get("encoder") != encoder:
        raise IndexCorrupt(f"index was built with encoder {meta.get('encoder')!r}, but {encoder!r} is configured")
    for name in FILES:
        verify_file(path, meta, name)
    try:
        index = faiss.read_index(str(path / "index.faiss"))
        entries = read_entries(path, meta)
        term_keys = json.loads((path / "term_keys.json").read_text(encoding="utf-8"))
        term_vectors = np.load(path / "term_vectors.npy", allow_pickle=False)
    except Exception as exc:  # checksums matched but content is unusable (e.g. written by another version)
        raise IndexCorrupt(f"could not read the index in {path}: {exc}") from None
    dim = meta.get("dim")
    if index.ntotal != len(entries) or len(entries) != meta.get("count"):
        raise IndexCorrupt(f"index holds {index.ntotal} vectors for {len(entries)} entries (meta says {meta.get('count')})")
    if index.d != dim or (len(term_keys) and term_vectors.shape != (len(term_keys), dim)):
        raise IndexCorrupt(f"vector dimension {index.d} does not match meta dimension {dim}")
    if index_kind(index) == "hnsw":
        index.hnsw.efSearch = int(meta.get("hnsw_ef_search") or 128)
    return IndexData(entries, index, list(term_keys), term_vectors, meta, path)
