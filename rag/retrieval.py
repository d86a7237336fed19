"""The hybrid ranker's lexical half: exact term/synonym matching on the subject of a question.

Dense search alone confuses near-identical terms ("bond" vs "bond issuer") and knows nothing about
abbreviations ("L/C"). ``Lexicon.match(subject)`` scores entries whose term or synonym *is* the subject
(1.0 / 0.9) or appears in it as a phrase (scaled by how much of the subject it covers); the glossary adds
``lexical_weight x lexical`` to the cosine score of each candidate.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Iterable

from rag.entries import Entry
from rag.text import STOPWORDS, compact, norm, singular

TERM_EXACT = 1.0
SYNONYM_EXACT = 0.9
TERM_PHRASE = 0.8
SYNONYM_PHRASE = 0.7
MAX_NGRAM = 8
# A term inside a longer question counts only if it covers at least half of the question's content words:
# 'bond issuer' still boosts 'bond', but a long description that merely mentions 'bond' is left to dense ranking.
MIN_PHRASE_COVERAGE = 0.5


def surface_keys(text: str) -> list[str]:
    """Lookup keys of a term or synonym: normalised, singular and separator-free forms."""
    key = norm(text)
    if not key or all(tok in STOPWORDS for tok in key.split()):
        return []
    keys = [key]
    if (one := singular(key)) is not None:
        keys.append(one)
    squashed = compact(text)
    if squashed:
        keys.append("#" + squashed)  # '#' marks the separator-free namespace: 'L/C', 'LC' and 'l c' meet
    return list(dict.fromkeys(keys))


class Lexicon:
    """key -> [(entry id, 'term' | 'synonym')] over every entry's term and synonyms."""

    def __init__(self, entries: Iterable[Entry] = (), start: int = 0) -> None:
        self._keys: dict[str, list[tuple[int, str]]] = defaultdict(list)
        self._acronyms: set[str] = set()  # upper-case terms ('SWIFT', 'VaR'): inside a longer question they must be typed in capitals
        self.size = 0
        self.add(entries, start)

    def add(self, entries: Iterable[Entry], start: int) -> None:
        for offset, entry in enumerate(entries):
            eid = start + offset
            for key in surface_keys(entry.term):
                self._keys[key].append((eid, "term"))
            if _is_acronym(entry.term):
                self._acronyms.add(norm(entry.term))
            for synonym in entry.synonyms:
                for key in surface_keys(synonym):
                    self._keys[key].append((eid, "synonym"))
                if _is_acronym(synonym):
                    self._acronyms.add(norm(synonym))
            self.size = max(self.size, eid + 1)

    def lookup(self, text: str) -> list[tuple[int, str]]:
        found: dict[int, str] = {}
        for key in surface_keys(text):
            for eid, kind in self._keys.get(key, ()):
                if found.get(eid) != "term":
                    found[eid] = kind
        return list(found.items())

    def match(self, subject: str, limit: int = 200) -> dict[int, tuple[float, str]]:
        """Entry id -> (lexical score in [0, 1], 'term' | 'synonym' | 'phrase') for a question's subject."""
        scores: dict[int, tuple[float, str]] = {}

        def offer(eid: int, score: float, kind: str) -> None:
            if score > scores.get(eid, (0.0, ""))[0]:
                scores[eid] = (score, kind)

        for eid, kind in self.lookup(subject):
            offer(eid, TERM_EXACT if kind == "term" else SYNONYM_EXACT, kind)
        tokens = norm(subject).split()
        content = [t for t in tokens if t not in STOPWORDS]
        # 'Who is Taylor Swift?' must not cite SWIFT; 'how is ebitda calculated' (no capitals at all) may.
        cased = any(ch.isupper() for ch in subject)
        upper_words = {norm(w) for w in re.findall(r"[A-Za-z0-9&/.-]+", subject) if _is_acronym(w)}
        if len(tokens) > 1 and content:
            for size in range(min(len(tokens), MAX_NGRAM), 0, -1):
                for start in range(0, len(tokens) - size + 1):
                    gram = tokens[start:start + size]
                    grams_content = [t for t in gram if t not in STOPWORDS]
                    if not grams_content or (size == 1 and len(gram[0]) < 2) or size == len(tokens):
                        continue
                    coverage = min(len(grams_content) / len(content), 1.0)
                    if coverage < MIN_PHRASE_COVERAGE:
                        continue
                    phrase = " ".join(gram)
                    if cased and phrase in self._acronyms and phrase not in upper_words:
                        continue
                    for eid, kind in self.lookup(phrase):
                        offer(eid, (TERM_PHRASE if kind == "term" else SYNONYM_PHRASE) * coverage, "phrase")
        if len(scores) > limit:
            scores = dict(sorted(scores.items(), key=lambda kv: -kv[1][0])[:limit])
        return scores


def _is_acronym(text: str) -> bool:
    """'SWIFT', 'L/C', 'VaR', 'CET1': short and mostly capitals."""
    letters = [ch for ch in text if ch.isalpha()]
    return 0 < len(text) <= 8 and " " not in text.strip() and sum(ch.isupper() for ch in letters) >= max(2, len(letters) - 1)
