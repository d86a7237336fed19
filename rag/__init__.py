"""The knowledge path: a financial glossary, a FAISS index with hybrid (dense + exact term) retrieval, and the
one answer path for knowledge questions (``rag.answer``).

Importing ``rag`` is cheap; faiss, torch and sentence-transformers load on first use.
"""

from rag.config import AnswerConfig, RagConfig
from rag.entries import Entry, Hit
from rag.errors import RagError
from rag.glossary import Glossary, ImportReport

__all__ = ["AnswerConfig", "Entry", "Glossary", "Hit", "ImportReport", "RagConfig", "RagError"]
