"""What the goal's meaning says — embedding-based readings of the goal (all-MiniLM-L6-v2):

1. **Approach shares**: the goal classifier (``advisor.goal_model``): a read-out on the whole goal plus a
   *knowledge* axis and a *behaviour* axis read on every clause, combined by a stacked logistic regression
   trained on the labelled example goals in ``advisor/data/anchors.jsonl`` (rag / finetune / both / prompt / vague).
2. **Nearest examples**: the k most similar anchors, with the signals they carry (freshness, label set,
   style, ...), so each reason can name the example goal it came from.
3. **Facets per clause**: the goal is cut into clauses (at punctuation and connectives such as "and",
   "in", "using", "with"); each clause is compared with short facet phrases per signal
   (``advisor/data/facets.jsonl``). This finds compound goals — one clause asks for current knowledge,
   another for a fixed format — that a single sentence embedding blurs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from advisor.anchors import ANCHOR_LABELS, anchors, signals
from advisor.clauses import check_goal, clause_spans, without_technique
from advisor.config import AdvisorConfig
from advisor.goal_model import FEATURES, facet_phrases, goal_model

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
    axes: Any = None  # advisor.goal_model.AxisReading: knowledge / behaviour per clause
    features: dict[str, float] = field(default_factory=dict)  # the stacker's named inputs

    @property
    def top_similarity(self) -> float:
        return self.neighbours[0].similarity if self.neighbours else 0.0

    def facet_sides(self) -> dict[str, list[Facet]]:
        sig = signals()
        out: dict[str, list[Facet]] = {}
        for facet in self.facets.values():
            out.setdefault(sig[facet.signal].side, []).append(facet)
        return out


@lru_cache(maxsize=1)
def _anchor_matrix():
    """Embeddings of all anchor goals, (n_anchors, dim): shipped with the goal model, else computed once."""
    vecs = goal_model().anchor_vecs
    if vecs is not None and len(vecs) == len(anchors()):
        return vecs
    from advisor.embed import embed

    return embed([a.goal for a in anchors()])


@lru_cache(maxsize=1)
def _facet_table():
    pairs = facet_phrases()
    vecs = goal_model().facet_vecs
    if vecs is None or len(vecs) != len(pairs):
        from advisor.embed import embed

        vecs = embed([p for _, p in pairs])
    return pairs, vecs


def read_goals(goals: list[str], config: AdvisorConfig | None = None) -> list[GoalSignals]:
    """Goal signals for many goals at once (batched embedding)."""
    import numpy as np

    from advisor.embed import embed

    config = config or AdvisorConfig()
    model = goal_model()
    originals = [check_goal(g) for g in goals]
    texts = [without_technique(t) for t in originals]
    clause_lists = [clause_spans(t) for t in texts]
    flat = [c for cl in clause_lists for c in cl]
    clause_vecs = embed(flat)
    goal_vecs = np.stack([clause_vecs[sum(len(c) for c in clause_lists[:n]) + cl.index(t)]
                          for n, (t, cl) in enumerate(zip(texts, clause_lists))])
    table = anchors()
    sims_all = goal_vecs @ _anchor_matrix().T
    facet_pairs, facet_vecs = _facet_table()

    out, offset = [], 0
    for original, text, gvec, sims, cls in zip(originals, texts, goal_vecs, sims_all, clause_lists):
        block = clause_vecs[offset: offset + len(cls)]
        offset += len(cls)
        probs, axes, feats = model.read(text, gvec, cls, block)
        shares = dict.fromkeys(ANCHOR_LABELS, 0.0)
        shares.update(probs)

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
        block = block @ facet_vecs.T
        for (signal, phrase), col in zip(facet_pairs, block.T):
            i = int(np.argmax(col))
            s = float(col[i])
            if s >= config.facet_threshold and (signal not in facets or s > facets[signal].similarity):
                facets[signal] = Facet(signal, cls[i], phrase, round(s, 3))
        out.append(GoalSignals(goal=original, shares=shares, signals=dict(sorted(sig.items(), key=lambda kv: -kv[1])),
                               signal_examples=examples, facets=facets, neighbours=neighbours,
                               axes=axes, features={n: round(float(v), 3) for n, v in zip(FEATURES, feats)}))
    return out


def read_goal(goal: str, config: AdvisorConfig | None = None) -> GoalSignals:
    return read_goals([goal], config)[0]
