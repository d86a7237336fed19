"""The knowledge path: a financial glossary, a FAISS index with hybrid (dense + exact term) retrieval, RAG prompts.

Importing ``rag`` is cheap; faiss, torch and sentence-transformers load on first use.
"""

from rag.config import RagConfig
from rag.entries import Entry, Hit
from rag.errors import RagError
from rag.glossary import Glossary, ImportReport

__all__ = ["Entry", "Glossary", "Hit", "ImportReport", "RagConfig", "RagError"]
