"""``RagConfig``: every knob of the knowledge path in one typed, validated dataclass."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from rag.errors import RagError

DEFAULT_ENCODER = "all-MiniLM-L6-v2"
MODES = ("hybrid", "dense")


@dataclass
class RagConfig:
    """How the glossary is embedded, indexed and searched. Defaults suit the built-in glossary on a laptop CPU."""

    k: int = field(default=5, metadata={"help": "How many definitions a search returns at most."})
    threshold: float = field(default=0.45, metadata={"help": "Minimum hybrid score for a hit; below it the answer is 'no relevant definition'."})
    lexical_weight: float = field(default=0.5, metadata={"help": "Weight of the exact term/synonym match (0..1) added to the dense cosine score."})
    candidates: int = field(default=50, metadata={"help": "Dense neighbours re-ranked by the hybrid ranker (plus every exact term/synonym match)."})
    encoder: str = field(default_factory=lambda: os.environ.get("FINTUNE_KB_ENCODER") or DEFAULT_ENCODER,
                         metadata={"help": "Sentence encoder: 'all-MiniLM-L6-v2' (bundled, offline) or a local sentence-transformers folder. Env: FINTUNE_KB_ENCODER."})
    batch_size: int = field(default=64, metadata={"help": "Texts per encoder batch when indexing."})
    flat_max: int = field(default=50_000, metadata={"help": "Up to this many entries the index is exact (FAISS flat); above it, approximate (HNSW)."})
    hnsw_m: int = field(default=32, metadata={"help": "HNSW graph degree for large (approximate) indexes."})
    hnsw_ef_search: int = field(default=128, metadata={"help": "HNSW search breadth: higher = better recall, slower queries."})

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> "RagConfig":
        def bad(name: str, why: str) -> RagError:
            return RagError(f"RAG setting `{name}`={getattr(self, name)!r} is invalid: {why}.")

        for name in ("k", "candidates", "batch_size", "flat_max", "hnsw_m", "hnsw_ef_search"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise bad(name, "use a positive whole number")
        if self.k > 100:
            raise bad("k", "ask for at most 100 definitions")
        if not -1.0 <= float(self.threshold) <= 2.0:
            raise bad("threshold", "use a score between -1 and 2 (about 0.45 works for MiniLM; 0 keeps almost everything)")
        if not 0.0 <= float(self.lexical_weight) <= 1.0:
            raise bad("lexical_weight", "use a weight between 0 (dense only) and 1")
        if not str(self.encoder).strip():
            raise bad("encoder", f"name an encoder such as {DEFAULT_ENCODER!r} or a local model folder")
        return self

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def help(cls) -> dict[str, str]:
        return {f.name: f.metadata.get("help", "") for f in fields(cls)}
