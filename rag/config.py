"""The knowledge path's knobs: ``RagConfig`` (index and search) and ``AnswerConfig`` (how answers are built).

The retrieval threshold lives only in ``RagConfig.threshold``; ``AnswerConfig.answer_score`` is the stricter
bar a hit must clear before an answer states its definition.
"""

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
    prompt_definitions: int = field(default=3, metadata={"help": "Definitions placed in a RAG prompt (small models need short prompts)."})

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> "RagConfig":
        def bad(name: str, why: str) -> RagError:
            return RagError(f"RAG setting `{name}`={getattr(self, name)!r} is invalid: {why}.")

        for name in ("k", "candidates", "batch_size", "flat_max", "hnsw_m", "hnsw_ef_search", "prompt_definitions"):
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


@dataclass
class AnswerConfig:
    """How a glossary answer is built from search hits. Defaults measured with benchmarks/rag_answers.py (dev seed)."""

    answer_score: float = field(default=0.75, metadata={"help": "A hit found by meaning alone (no exact term/synonym match) is stated as the answer only at this score or above; exact matches always are, partial phrase matches never (the glossary defines only part of what was asked). Otherwise the answer says there is no entry and offers the closest terms."})
    closest_terms: int = field(default=3, metadata={"help": "Closest glossary terms offered when there is no entry."})
    max_terms: int = field(default=3, metadata={"help": "Most terms one question may ask about ('difference between EBIT and EBITDA' = 2)."})
    explain: bool = field(default=True, metadata={"help": "Let the model add a short explanation after the quoted definition (kept only if it agrees with it)."})
    explain_tokens: int = field(default=48, metadata={"help": "Upper bound on the model's explanation, in tokens."})
    min_support: float = field(default=0.7, metadata={"help": "MiniLM cosine an explanation sentence needs to its cited definition(s) to be kept (0.7 chosen on the dev split: stated answers faithful to their citation 96% -> 98%, explanations kept 27% -> 15%)."})
    max_echo: float = field(default=0.95, metadata={"help": "An explanation sentence this similar to the definition only repeats it, so it is not shown."})

    def __post_init__(self) -> None:
        def bad(name: str, why: str) -> RagError:
            return RagError(f"Answer setting `{name}`={getattr(self, name)!r} is invalid: {why}.")

        for name in ("closest_terms", "max_terms", "explain_tokens"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise bad(name, "use a positive whole number")
        if not -1.0 <= float(self.answer_score) <= 2.0:
            raise bad("answer_score", "use a score between -1 and 2 (hybrid scores: cosine + 0.5 x exact match)")
        for name in ("min_support", "max_echo"):
            if not 0.0 <= float(getattr(self, name)) <= 1.0:
                raise bad(name, "use a cosine between 0 and 1")
        if not isinstance(self.explain, bool):
            raise bad("explain", "use true or false")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
