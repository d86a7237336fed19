"""``Glossary``: the knowledge base a user searches - entries, FAISS index, hybrid ranking, imports.

    g = Glossary.open()                      # $FINTUNE_HOME/kb, built from the built-in glossary on first use
    g.search("What is a letter of credit?")  # -> [Hit(term='letter of credit', score=1.38, ...), ...]
    g.import_file("fibo_glossary_all.jsonl") # -> ImportReport(added=5269, ...)

The index on disk is verified on open (checksums, counts, encoder, dimension); anything that does not
match is rebuilt - from the stored entries when they are intact, else from the built-in glossary - and a
line describing what happened is added to ``notices``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from rag import builtin, store
from rag.config import MODES, RagConfig
from rag.encoder import Encoder, canonical_name
from rag.entries import Entry, Hit
from rag.errors import RagError
from rag.index_build import build, extend_term_cache, index_meta, recover, refresh_builtin
from rag.loaders import load_file, parse_mapping
from rag.retrieval import Lexicon
from rag.text import norm, strip_question

log = logging.getLogger(__name__)
Progress = Callable[[int, int, str], None]
_QUERY_CACHE = 2048
_RELOAD_CHECK_S = 1.0


@dataclass
class ImportReport:
    """What an import did. ``summary()`` is the sentence shown to the user."""

    source: str
    file: str
    rows: int
    added: int
    skipped_existing: int
    duplicate_rows: int = 0
    merged_senses: int = 0
    invalid_rows: int = 0
    problems: list[str] = field(default_factory=list)
    total: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        if self.added == 0:
            head = f"Nothing added from {Path(self.file).name}: all {self.skipped_existing} entries of source {self.source!r} are already in the knowledge base"
        else:
            head = f"Added {self.added} entries from {Path(self.file).name} as source {self.source!r}"
            if self.skipped_existing:
                head += f"; skipped {self.skipped_existing} already present"
        extra = []
        if self.merged_senses and self.added:
            extra.append(f"{self.merged_senses} repeated terms merged as extra senses")
        if self.duplicate_rows and self.added:
            extra.append(f"{self.duplicate_rows} duplicate rows dropped")
        if self.invalid_rows:
            extra.append(f"{self.invalid_rows} invalid rows skipped (first: {self.problems[0]})" if self.problems else f"{self.invalid_rows} invalid rows skipped")
        tail = f" ({'; '.join(extra)})" if extra else ""
        return f"{head}{tail}. The index now holds {self.total} entries."

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__} | {"summary": self.summary()}


@dataclass
class _State:
    """One consistent, immutable-by-convention snapshot: swapped as a whole, so readers never see half an update."""

    data: store.IndexData
    lexicon: Lexicon
    term_rows: dict[str, int]

    @classmethod
    def of(cls, data: store.IndexData) -> "_State":
        return cls(data, Lexicon(data.entries), {k: i for i, k in enumerate(data.term_keys)})


class Glossary:
    """A searchable glossary index under ``root`` (default ``$FINTUNE_HOME/kb``). Thread-safe."""

    def __init__(self, root: Path, config: RagConfig, state: _State, notices: list[str] | None = None) -> None:
        self.root = root
        self.config = config
        self._state = state
        self.notices: list[str] = list(notices or [])
        self._write_lock = threading.Lock()
        self._cache_lock = threading.Lock()
        self._query_cache: OrderedDict[str, Any] = OrderedDict()
        self._last_check = time.monotonic()

    # ----- opening and building ---------------------------------------------------------------
    @classmethod
    def open(cls, root: str | Path | None = None, config: RagConfig | None = None, progress: Progress | None = None) -> "Glossary":
        """Open (and if needed build, repair or upgrade) the index. Fast when the stored index is valid."""
        from fintune.paths import kb_dir

        root = Path(root).expanduser() if root else kb_dir()
        config = config or RagConfig()
        encoder = canonical_name(config.encoder)
        try:
            data = store.load(root, encoder=encoder)
        except store.IndexCorrupt:
            with store.writer_lock(root):
                try:  # another process may have repaired it while we waited for the lock
                    data = store.load(root, encoder=encoder)
                except store.IndexCorrupt as exc:
                    data, notice = recover(root, config, str(exc), progress)
                    glossary = cls(root, config, _State.of(data), [notice] if notice else [])
                    return glossary
        notices: list[str] = []
        if data.meta.get("builtin_checksum") != builtin.checksum():
            with store.writer_lock(root):
                data = store.load(root, encoder=encoder)
                if data.meta.get("builtin_checksum") != builtin.checksum():
                    data = refresh_builtin(root, config, data, progress)
                    notices.append(f"The built-in glossary was updated; the index now holds {len(data.entries)} entries.")
        return cls(root, config, _State.of(data), notices)

    def rebuild(self, *, reset: bool = False, progress: Progress | None = None) -> int:
        """Re-embed every entry (``reset=True``: drop imports, keep only the built-in glossary). Returns the entry count."""
        with self._write_lock, store.writer_lock(self.root):
            if reset:
                entries, sources = builtin.load(), {}
            else:
                self._reload()
                entries = builtin.load() + [e for e in self._state.data.entries if e.source != builtin.SOURCE]
                sources = dict(self._state.data.meta.get("sources") or {})
            data = build(self.root, self.config, entries, sources, progress)
            self._swap(data)
        return len(data.entries)

    # ----- adding -----------------------------------------------------------------------------
    def import_file(self, path: str | Path, *, source: str | None = None, mapping: dict[str, str] | str | None = None,
                    skip_invalid: bool = False, fmt: str | None = None, progress: Progress | None = None) -> ImportReport:
        """Add a user's glossary file. The file is fully read and validated before the index is touched."""
        started = time.perf_counter()
        if isinstance(mapping, str):
            mapping = parse_mapping(mapping)
        if source is not None and source.strip() == builtin.SOURCE:
            raise RagError(f"The source name {builtin.SOURCE!r} is reserved for the built-in glossary. Pass another --source name.")
        result = load_file(path, mapping=mapping, source=source, fmt=fmt, skip_invalid=skip_invalid)
        if any(e.source == builtin.SOURCE for e in result.entries):
            raise RagError(f"{Path(path).name} labels rows with the reserved source {builtin.SOURCE!r}. Rename that source in the file.")
        added, skipped = self.add(result.entries, origin=str(Path(path).expanduser().resolve()), progress=progress)
        src = result.entries[0].source if len({e.source for e in result.entries}) == 1 else (source or "(per-row sources)")
        return ImportReport(
            source=src, file=str(path), rows=result.rows, added=added, skipped_existing=skipped,
            duplicate_rows=len(result.duplicate_rows), merged_senses=result.merged_senses,
            invalid_rows=len(result.invalid), problems=[str(p) for p in result.invalid[:5]],
            total=len(self), seconds=round(time.perf_counter() - started, 2),
        )

    def add(self, entries: Iterable[Entry], *, origin: str = "", progress: Progress | None = None) -> tuple[int, int]:
        """Add entries not yet present (same normalised term and source). Returns (added, skipped)."""
        import faiss
        import numpy as np

        entries = list(entries)
        with self._write_lock, store.writer_lock(self.root):
            self._reload()
            old = self._state.data
            present = {e.key for e in old.entries}
            new: list[Entry] = []
            for entry in entries:
                if entry.key not in present:
                    present.add(entry.key)
                    new.append(entry)
            skipped = len(entries) - len(new)
            if not new:
                return 0, skipped
            encoder = self._encoder()
            vectors = encoder.encode([e.embed_text() for e in new], self.config.batch_size, progress, "Embedding entries")
            total = len(old.entries) + len(new)
            if store.index_kind(old.index) == "flat" and total > self.config.flat_max:
                index, kind, reason = store.make_index(np.vstack([store.all_vectors(old.index), vectors]), flat_max=self.config.flat_max,
                                                       hnsw_m=self.config.hnsw_m, hnsw_ef_search=self.config.hnsw_ef_search)
            else:
                index = faiss.clone_index(old.index)
                index.add(vectors)
                kind, reason = store.index_kind(index), old.meta.get("index_reason", "")
            keys, term_vecs = extend_term_cache(encoder, self.config, old.term_keys, old.term_vectors, new, progress)
            sources = dict(old.meta.get("sources") or {})
            for name in sorted({e.source for e in new}):
                info = dict(sources.get(name) or {})
                info.update(file=origin or info.get("file", ""), imported_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
                sources[name] = info
            data = store.IndexData(old.entries + new, index, keys, term_vecs)
            meta = index_meta(self.config, encoder.dim, kind, reason, sources)
            store.publish(self.root, data, meta)
            self._swap(data)
        return len(new), skipped

    # ----- searching --------------------------------------------------------------------------
    def search(self, query: str, k: int | None = None, *, mode: str = "hybrid", threshold: float | None = None) -> list[Hit]:
        """Best definitions for a question or term, best first; [] means no definition scored above the threshold."""
        return self.search_many([query], k, mode=mode, threshold=threshold)[0]

    def search_many(self, queries: Sequence[str], k: int | None = None, *, mode: str = "hybrid",
                    threshold: float | None = None) -> list[list[Hit]]:
        """``search`` for many queries, embedding the ones not in the cache in one batch."""
        if mode not in MODES:
            raise RagError(f"Unknown search mode {mode!r}. Use one of: {', '.join(MODES)}.")
        k = self.config.k if k is None else replace(self.config, k=int(k)).k  # RagConfig checks k
        threshold = self.config.threshold if threshold is None else float(threshold)
        queries = [str(q or "").strip() for q in queries]
        for q in queries:
            if not q:
                raise RagError("The search query is empty. Type a term (e.g. 'EBITDA') or a question (e.g. 'What is a letter of credit?').")
        self._maybe_reload()
        state = self._state
        if not state.data.entries:
            return [[] for _ in queries]
        subjects = [strip_question(q) if mode == "hybrid" else q for q in queries]
        vectors = self._vectors(state, subjects, use_terms=mode == "hybrid")
        return [self._rank(state, q, s, v, k, mode, threshold) for q, s, v in zip(queries, subjects, vectors)]

    def _rank(self, state: _State, query: str, subject: str, vector, k: int, mode: str, threshold: float) -> list[Hit]:
        import numpy as np

        index, entries = state.data.index, state.data.entries
        n = len(entries)
        wanted = min(n, k if mode == "dense" else max(self.config.candidates, k))
        scores, ids = index.search(vector.reshape(1, -1), wanted)
        dense = {int(i): float(s) for i, s in zip(ids[0], scores[0]) if i >= 0}
        lexical: dict[int, tuple[float, str]] = {}
        if mode == "hybrid":
            lexical = state.lexicon.match(subject)
            for eid in lexical:
                if eid not in dense:
                    dense[eid] = float(np.dot(index.reconstruct(int(eid)), vector))
        weight = self.config.lexical_weight if mode == "hybrid" else 0.0
        ranked = []
        for eid, cos in dense.items():
            lex, kind = lexical.get(eid, (0.0, ""))
            ranked.append((cos + weight * lex, cos, lex, kind, eid))
        ranked.sort(key=lambda r: (-r[0], r[4]))
        hits = []
        for score, cos, lex, kind, eid in ranked:
            if score < threshold or len(hits) >= k:
                break
            e = entries[eid]
            hits.append(Hit(e.term, e.definition, e.source, score, e.synonyms, e.category, cos, lex, kind, eid))
        return hits

    def _vectors(self, state: _State, texts: list[str], use_terms: bool):
        """Query vectors: pre-computed term vectors, then the LRU cache, then the encoder (one batch)."""
        import numpy as np

        out: list[Any] = [None] * len(texts)
        missing: dict[str, list[int]] = {}
        for i, text in enumerate(texts):
            key = norm(text)
            row = state.term_rows.get(key) if use_terms else None
            if row is not None:
                out[i] = state.data.term_vectors[row]
                continue
            cache_key = ("t:" if use_terms else "r:") + text
            with self._cache_lock:
                cached = self._query_cache.get(cache_key)
                if cached is not None:
                    self._query_cache.move_to_end(cache_key)
            if cached is not None:
                out[i] = cached
            else:
                missing.setdefault(text, []).append(i)
        if missing:
            vecs = self._encoder().encode(list(missing), self.config.batch_size)
            with self._cache_lock:
                for (text, where), vec in zip(missing.items(), vecs):
                    self._query_cache[("t:" if use_terms else "r:") + text] = vec
                    for i in where:
                        out[i] = vec
                while len(self._query_cache) > _QUERY_CACHE:
                    self._query_cache.popitem(last=False)
        return [np.asarray(v, dtype="float32") for v in out]

    # ----- browsing and stats -------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._state.data.entries)

    def sources(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for e in self._state.data.entries:
            counts[e.source] = counts.get(e.source, 0) + 1
        return counts

    def entries(self, *, source: str | None = None, contains: str | None = None, offset: int = 0, limit: int | None = None) -> list[Entry]:
        """Entries in index order, optionally of one source and/or whose term/synonyms/definition contain a text."""
        self._maybe_reload()
        needle = norm(contains) if contains else ""
        out = []
        for e in self._state.data.entries:
            if source and e.source != source:
                continue
            if needle and needle not in norm(e.term) and needle not in norm(" ".join(e.synonyms)) and needle not in norm(e.definition):
                continue
            out.append(e)
        return out[offset: None if limit is None else offset + limit]

    def stats(self) -> dict[str, Any]:
        self._maybe_reload()
        data = self._state.data
        meta = data.meta
        return {
            "entries": len(data.entries),
            "sources": self.sources(),
            "imports": meta.get("sources") or {},
            "encoder": meta.get("encoder"),
            "dim": meta.get("dim"),
            "index_type": meta.get("index_type"),
            "index_reason": meta.get("index_reason"),
            "term_vectors": len(data.term_keys),
            "built_at": meta.get("built_at"),
            "checksum": meta.get("checksum"),
            "versions": meta.get("versions"),
            "path": str(data.path) if data.path else str(self.root),
        }

    # ----- internals ----------------------------------------------------------------------------
    def _encoder(self) -> Encoder:
        return Encoder.shared(self.config.encoder)

    def _swap(self, data: store.IndexData) -> None:
        self._state = _State.of(data)
        self._last_check = time.monotonic()

    def _maybe_reload(self) -> None:
        if time.monotonic() - self._last_check >= _RELOAD_CHECK_S:
            self._reload()

    def _reload(self) -> None:
        """Pick up a version another process published. A damaged newer version is not used (kept: ours)."""
        self._last_check = time.monotonic()
        current = store.current_dir(self.root)
        if current is None or self._state.data.path == current:
            return  # nothing published since we loaded
        try:
            data = store.load(self.root, encoder=canonical_name(self.config.encoder))
        except store.IndexCorrupt as exc:
            msg = f"The index published in {current} is unusable ({exc}); still using the previous one. Run `fintune kb build` to repair."
            if msg not in self.notices:
                self.notices.append(msg)
                log.warning(msg)
            return
        self._swap(data)
