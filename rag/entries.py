"""Glossary entries: ``{term, definition, synonyms, category, source}``, immutable and JSON-friendly."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rag.text import norm


@dataclass(frozen=True)
class Entry:
    """One glossary definition. ``source`` names where it came from (``builtin`` or an imported file)."""

    term: str
    definition: str
    synonyms: tuple[str, ...] = ()
    category: str = ""
    source: str = "builtin"

    @property
    def key(self) -> tuple[str, str]:
        """Identity for de-duplication: the normalised term within one source."""
        return (norm(self.term), self.source)

    def embed_text(self) -> str:
        """What the encoder sees for this entry: term, synonyms, definition."""
        syn = f" ({', '.join(self.synonyms)})" if self.synonyms else ""
        return f"{self.term}{syn}: {self.definition}"

    def to_dict(self) -> dict[str, Any]:
        return {"term": self.term, "definition": self.definition, "synonyms": list(self.synonyms), "category": self.category, "source": self.source}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Entry":
        return cls(
            term=str(data["term"]),
            definition=str(data["definition"]),
            synonyms=tuple(str(s) for s in data.get("synonyms") or ()),
            category=str(data.get("category") or ""),
            source=str(data.get("source") or "builtin"),
        )


@dataclass(frozen=True)
class Hit:
    """A search result: the entry's fields plus its scores (``score`` = ``dense`` + weight x ``lexical``)."""

    term: str
    definition: str
    source: str
    score: float
    synonyms: tuple[str, ...] = ()
    category: str = ""
    dense: float = 0.0
    lexical: float = 0.0
    match: str = field(default="", metadata={"help": "'term', 'synonym', 'phrase' or '' (dense only)."})
    entry_id: int = -1

    def to_dict(self) -> dict[str, Any]:
        return {
            "term": self.term,
            "definition": self.definition,
            "source": self.source,
            "score": round(float(self.score), 4),
            "synonyms": list(self.synonyms),
            "category": self.category,
            "dense": round(float(self.dense), 4),
            "lexical": round(float(self.lexical), 4),
            "match": self.match,
        }
