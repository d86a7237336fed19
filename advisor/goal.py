"""What the goal's meaning says — three embedding-based readings of the goal (all-MiniLM-L6-v2):

1. **Approach shares**: a logistic-regression read-out trained on the labelled example goals in
   ``advisor/data/anchors.jsonl`` (rag / finetune / both / prompt / vague) gives a probability per label.
2. **Nearest examples**: the k most similar anchors, with the signals they carry (freshness, label set,
   style, ...), so each reason can name the example goal it came from.
3. **Facets per clause**: the goal is cut into clauses (at punctuation and connectives such as "and",
   "in", "using", "with"); each clause is compared with short facet phrases per signal
   (``advisor/data/facets.jsonl``). This finds compound goals — one clause asks for current knowledge,
   another for a fixed format — that a single sentence embedding blurs.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache

from advisor.anchors import ANCHOR_LABELS, DATA_DIR, anchor_matrix, anchors, signals
from advisor.config import AdvisorConfig
from advisor.errors import AdvisorError

# Clause boundaries: punctuation, or a space before a connective that usually starts a new requirement.
_BOUNDARY = re.compile(
    r"[,;:]|\s(?=(?:and|but|while|then|in|into|using|with|following|according|formatted|as|like|from|citing|always)\s)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Neighbour:
    goal: str
    approach: str
    similarity: float


@dataclass(frozen=True)
class Facet:
    """A signal found in one clause of the goal, with the facet phrase it resembled."""

    signal: str
    clause: str
    phrase: str
    similarity: float


@dataclass
class GoalSignals:
    """The goal's evidence."""

    goal: str
    shares: dict[str, float]  # label -> probability (rag, finetune, both, prompt, vague)
    signals: dict[str, float]  # signal -> share among the k nearest anchors
    signal_examples: dict[str, str]  # signal -> nearest anchor goal carrying it
    facets: dict[str, Facet] = field(default_factory=dict)  # signal -> best clause match (above threshold)
    neighbours: list[Neighbour] = field(default_factory=list)

    @property
    def top_similarity(self) -> float:
        return self.neighbours[0].similarity if self.neighbours else 0.0

    def facet_sides(self) -> dict[str, list[Facet]]:
        sig = signals()
        out: dict[str, list[Facet]] = {}
        for facet in self.facets.values():
            out.setdefault(sig[facet.signal].side, []).append(facet)
        return out


def check_goal(goal: str) -> str:
    text = " ".join(str(goal or "").split())
    if not text:
        raise AdvisorError("The goal is empty. Describe in a sentence what the model should do, e.g. "
                           "\"Classify financial news headlines as bullish, bearish or neutral\".")
    if len(text) > 2000:
        raise AdvisorError(f"The goal is {len(text)} characters long. Describe it in one or two sentences "
                           "(under 2,000 characters) and attach examples with --data.")
    return text


def clauses(goal: str, min_words: int = 2, max_chunks: int = 3) -> list[str]:
    """Spans of the goal for facet matching: runs of 1..max_chunks adjacent chunks between clause boundaries.

    Runs (rather than single chunks) keep lists such as "fraud, duplicate charge or other" together.
    """
    chunks = [c.strip(" ,;:.") for c in _BOUNDARY.split(goal)]
    chunks = [c for c in chunks if c]
    spans: list[str] = []
    for i in range(len(chunks)):
        for j in range(i + 1, min(len(chunks), i + max_chunks) + 1):
            span = " ".join(chunks[i:j])
            if len(span.split()) >= min_words and span not in spans:
                spans.append(span)
    return spans or [goal]


@lru_cache(maxsize=1)
def _facet_table():
    rows = [json.loads(line) for line in (DATA_DIR / "facets.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    pairs = [(row["signal"], phrase) for row in rows for phrase in row["phrases"]]
    from advisor.embed import embed

    return pairs, embed([p for _, p in pairs])


@lru_cache(maxsize=1)
def _readout():
    """Multinomial logistic regression from anchor embeddings to labels (fit once, ~100 ms)."""
    from sklearn.linear_model import LogisticRegression

    labels = [a.approach for a in anchors()]
    return LogisticRegression(C=10.0, max_iter=3000).fit(anchor_matrix(), labels)


def read_goals(goals: list[str], config: AdvisorConfig | None = None) -> list[GoalSignals]:
    """Goal signals for many goals at once (batched embedding)."""
    import numpy as np

    from advisor.embed import embed

    config = config or AdvisorConfig()
    texts = [check_goal(g) for g in goals]
    goal_vecs = embed(texts)
    readout = _readout()
    probs = readout.predict_proba(goal_vecs)
    table = anchors()
    sims_all = goal_vecs @ anchor_matrix().T

    clause_lists = [clauses(t) for t in texts]
    flat = [c for cl in clause_lists for c in cl]
    clause_vecs = embed(flat)
    facet_pairs, facet_vecs = _facet_table()
    facet_sims = clause_vecs @ facet_vecs.T  # (n_clauses, n_phrases)

    out, offset = [], 0
    for text, prob, sims, cls in zip(texts, probs, sims_all, clause_lists):
        shares = dict.fromkeys(ANCHOR_LABELS, 0.0)
        for label, p in zip(readout.classes_, prob):
            shares[str(label)] = float(p)

        order = np.argsort(-sims)[: config.k]
        top = sims[order]
        w = np.exp((top - top[0]) / config.temperature)
        w = w / w.sum()
        sig: dict[str, float] = {}
        examples: dict[str, str] = {}
        neighbours = []
        for idx, sim, weight in zip(order, top, w):
            anchor = table[int(idx)]
            for s in anchor.signals:
                sig[s] = sig.get(s, 0.0) + float(weight)
                examples.setdefault(s, anchor.goal)
            neighbours.append(Neighbour(anchor.goal, anchor.approach, round(float(sim), 3)))

        facets: dict[str, Facet] = {}
        block = facet_sims[offset: offset + len(cls)]
        offset += len(cls)
        for (signal, phrase), col in zip(facet_pairs, block.T):
            i = int(np.argmax(col))
            s = float(col[i])
            if s >= config.facet_threshold and (signal not in facets or s > facets[signal].similarity):
                facets[signal] = Facet(signal, cls[i], phrase, round(s, 3))
        out.append(GoalSignals(goal=text, shares=shares, signals=dict(sorted(sig.items(), key=lambda kv: -kv[1])),
                               signal_examples=examples, facets=facets, neighbours=neighbours))
    return out


def read_goal(goal: str, config: AdvisorConfig | None = None) -> GoalSignals:
    return read_goals([goal], config)[0]
