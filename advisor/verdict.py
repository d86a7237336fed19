"""Stated criteria + the learned goal model (+ the data) → one approach, who decided it, and a calibrated confidence.

Order of authority (docs/advisor.md, "Method"):

1. Criteria the goal states outright (``advisor.criteria``) decide: a need on each side → ``both``; one side →
   that side, except where the goal model hears the other side too (its ``both``, or the other side itself):
   then ``both``, since the criteria are written for precision, not recall — unless the goal asks to *learn new
   facts* (retrieval alone), to *decide the way its people decided before* or to *be fluent in a domain's
   language* (a learnt mapping or domain alone; ``SIDE_ALONE``). A generic-task cue next to one specific need
   is settled by the goal model (``stated_split``).
2. A goal that states no criterion gets the goal model's answer (or a clarifying question).
3. The data then confirms or contradicts: many labelled rows settle "prompt or fine-tune?", mapping rows turn a
   knowledge goal into ``both``, fact rows warn against fine-tuning.

Confidence is the accuracy each path measured on held-out goals (blind sets 5–8 and the tuning tables, which
the goal model never trained on); ``benchmarks/advisor_reliability.py`` re-measures the reliability table.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from advisor.config import APPROACHES
from advisor.criteria import CriterionHit, detect, negated_sides, stated_sides

# Path → confidence, measured on held-out goals (docs/advisor.md, "Calibration"): stated on both sides and stated
# with the model agreeing are right ~98 %; one stated side while the model hears both sides ~90 %, or the other
# side (read as both) ~75 %; stated against the model ~75 %; a generic-task cue plus one specific need, settled by
# the goal model, ~75 %.
PATH_CONFIDENCE = {
    "stated_both": 0.95,
    "stated_agrees": 0.95,
    "stated_model_both": 0.7,
    "stated_model_other": 0.7,
    "stated_overrides": 0.7,
    "stated_split": 0.7,
}
# Criteria that settle their side alone even when the goal model hears the other side too: facts to be learnt are
# retrieval's (the guidance); past decisions are labelled examples of a mapping, not knowledge; and a domain's
# jargon reads like knowledge to the goal model but is language to learn (source-held-out CV: 3 of 3 fine-tune).
SIDE_ALONE = frozenset({"learn_facts", "past_decisions", "domain"})
# Goal model alone, by its top share: held-out 90/93 at ≥ 0.8, 14/16 at 0.6–0.8, 3/3 below (small).
MODEL_SHARE_CONFIDENCE = ((0.8, 0.9), (0.6, 0.75), (0.0, 0.6))
DATA_DECISIVE_ROWS = 1000  # more labelled rows than any prompt holds
DATA_MAPPING_ROWS = 200


@dataclass
class Verdict:
    approach: str  # rag | finetune | both | prompt | clarify
    decided_by: str  # a PATH_CONFIDENCE key, "model", "clarify", or "data"
    confidence: float
    hits: list[CriterionHit] = field(default_factory=list)
    model_answer: str = ""

    def deciding_hits(self) -> list[CriterionHit]:
        """The one or two stated criteria behind the answer: one per side it needs."""
        sides = {"rag", "finetune"} if self.approach == "both" else {self.approach}
        out, seen = [], set()
        for h in self.hits:
            if h.side in sides and h.side not in seen:
                out.append(h)
                seen.add(h.side)
        return out


def model_confidence(top_share: float) -> float:
    return next(conf for floor, conf in MODEL_SHARE_CONFIDENCE if top_share >= floor)


def goal_verdict(goal: str, shares: dict[str, float], model_answer: str) -> Verdict:
    """The goal's verdict before any data: ``model_answer`` is the goal model's outcome (an approach or "clarify")."""
    hits = detect(goal)
    ruled_out = negated_sides(goal)
    if model_answer == "both" and len(ruled_out) == 1:  # "both" needs the side the goal ruled out
        model_answer = "rag" if ruled_out == {"finetune"} else "finetune"
    sides = stated_sides(hits)
    keys = {h.key for h in hits}
    if {"rag", "finetune"} <= sides:
        return Verdict("both", "stated_both", PATH_CONFIDENCE["stated_both"], hits, model_answer)
    if len(sides) == 1:
        side = next(iter(sides))
        if side != "prompt" and model_answer == "prompt" and any(h.side == "prompt" for h in hits):
            # a generic-task cue and one specific need: the goal model settles which is meant ("I paste my
            # expenses; sort them into the categories I list" is a prompt; source-held-out CV: 4 of 4 prompt)
            return Verdict("prompt", "stated_split", PATH_CONFIDENCE["stated_split"], hits, model_answer)
        other = {"rag": "finetune", "finetune": "rag"}.get(side)
        if other and not keys & SIDE_ALONE and other not in ruled_out and model_answer in ("both", other):
            path = "stated_model_both" if model_answer == "both" else "stated_model_other"
            return Verdict("both", path, PATH_CONFIDENCE[path], hits, model_answer)
        path = "stated_agrees" if model_answer == side else "stated_overrides"
        return Verdict(side, path, PATH_CONFIDENCE[path], hits, model_answer)
    if model_answer == "clarify":
        return Verdict("clarify", "clarify", 0.0, hits, model_answer)
    top = max(shares[a] for a in APPROACHES)
    return Verdict(model_answer, "model", model_confidence(top), hits, model_answer)


def data_side(kind: str, n_rows: int) -> str | None:
    """Which side the attached data speaks for, when it speaks clearly."""
    if (kind == "label_set" and n_rows >= DATA_MAPPING_ROWS) or (kind == "format" and n_rows >= 100):
        return "finetune"
    if kind in ("facts", "grounded"):
        return "rag"
    if kind == "too_small" or (kind == "label_set" and n_rows < 50):
        return "prompt"
    return None


def with_data(v: Verdict, kind: str, n_rows: int, tie: frozenset[str] | None) -> tuple[Verdict, str | None]:
    """(the verdict after the data, a composition note or None). ``tie`` = the two approaches of a near-tie question."""
    side = data_side(kind, n_rows)
    decisive = kind == "label_set" and n_rows >= DATA_DECISIVE_ROWS
    a = v.approach
    if a == "clarify":
        if tie and side in tie:  # the data answers the question the advisor would have asked
            return Verdict(side, "data", 0.75, v.hits, v.model_answer), None
        return v, None
    if a == "prompt" and side == "finetune":
        return Verdict("finetune", "data", 0.9 if decisive else 0.7, v.hits, v.model_answer), None
    if a == "rag" and side == "finetune":
        return (Verdict("both", "data", 0.75, v.hits, v.model_answer),
                "the goal needs knowledge while the data teaches a mapping")
    if a in ("finetune", "both") and side == "rag":
        return Verdict(a, v.decided_by, min(v.confidence, 0.6), v.hits, v.model_answer), None
    if a == "finetune" and side == "prompt" and v.decided_by == "model":
        return Verdict("prompt", "data", 0.6, v.hits, v.model_answer), None
    if side is not None and (side == a or (a == "both" and side in ("rag", "finetune"))):
        conf = 0.95 if decisive else max(v.confidence, 0.85)
        return Verdict(a, v.decided_by, conf, v.hits, v.model_answer), None
    return v, None
