"""Sentence embeddings for the advisor: the same shared all-MiniLM-L6-v2 encoder the glossary uses.

One model per process serves the advisor, retrieval and evaluation; errors keep the advisor's own class.
"""

from __future__ import annotations

from advisor.errors import AdvisorError


def embed(texts: list[str]):
    """Unit-normalised float32 embeddings, shape (len(texts), 384)."""
    from rag.encoder import Encoder
    from rag.errors import RagError

    try:
        return Encoder.shared().encode(list(texts))
    except RagError as exc:
        raise AdvisorError(str(exc)) from exc
