"""The base class of every error the knowledge path (glossary, index, retrieval) shows to a user."""

from fintune.errors import FinTuneError


class RagError(FinTuneError):
    """A glossary file, the index or a search request is unusable; the message says why and how to fix it."""
