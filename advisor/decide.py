"""Combine the goal's words, the goal model, the data's shape and the machine into a Recommendation (+ a TrainPlan).

1. Criteria the goal states outright (advisor.criteria: new or changing facts, cite or quote, your documents →
   retrieval; your labels or schema, a domain's language, a consistent style → fine-tuning; a generic task →
   a prompt) decide; otherwise the goal classifier (advisor.goal_model) does (advisor.verdict).
2. Data (optional) confirms or contradicts: many labelled rows settle "prompt or fine-tune?", mapping rows turn
   a knowledge goal into `both`, fact rows warn against fine-tuning.
3. Vague goals and near-ties with no stated criterion ask a question instead of guessing.
4. Reasons lead with the deciding criterion in the goal's words and the data's shape (advisor.explain); the
   classifier's numbers go to `evidence`. For `finetune` / `both` the planner writes the TrainPlan.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from advisor.anchors import signals as signal_table
from advisor.config import APPROACHES, AdvisorConfig
from advisor.criteria import names_label_list
from advisor.data_profile import DataProfile, load_pairs, profile
from advisor.explain import axes_dict, base_model_fact, data_reason, details, lead_reasons
from advisor.goal import GoalSignals, read_goals
from advisor.verdict import data_side, goal_verdict, with_data
from fintune.hardware import Machine
from fintune.models import requested_name
NEXT_STEP = {
    "rag": "Open the Knowledge / Chat tab: put the facts in the knowledge base and chat with retrieval.",
    "finetune": "Open the Train tab: the plan below is pre-filled; attach your data and start training.",
    "both": "Do both: build the knowledge base (Knowledge / Chat tab) and train the behaviour (Train tab, plan pre-filled).",
    "prompt": "Open the Chat tab and give the base model clear instructions with two or three examples.",
}
QUESTIONS = {
    frozenset({"rag", "finetune"}): "Should the model *know* facts (changing, or in your documents → RAG) or *produce* a particular kind of output (labels, a format, a style → fine-tune)? Attach a sample of input→output examples if you have them.",
    frozenset({"finetune", "prompt"}): "Is this a standard task any assistant already does (→ a prompt), or does it need your own labels, format or style (→ fine-tune)? If the latter, how many labelled examples do you have?",
    frozenset({"rag", "prompt"}): "Do the answers need facts from your documents or recent data (→ RAG), or is general knowledge enough (→ a prompt)?",
}
VAGUE_QUESTION = ("What should the model produce, and from what? For example \"Classify support tickets into our 5 categories\" "
                  "(fine-tune) or \"Answer questions about our current fee schedule\" (RAG). Attaching a sample of your data helps too.")


@dataclass
class Recommendation:
    goal: str
    approach: str
    confidence: float
    reasons: list[str]
    warnings: list[str] = field(default_factory=list)
    needs_clarification: bool = False
    question: str | None = None
    next_step: str = ""
    plan: Any = None  # trainer.plan.TrainPlan | None
    data: dict | None = None
    machine: dict | None = None
    evidence: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        d = {k: v for k, v in asdict(self).items() if k != "plan"}
        d["plan"] = self.plan.to_dict() if self.plan is not None else None
        return d


def is_vague(shares: dict[str, float], top_similarity: float, cfg: AdvisorConfig) -> bool:
    """The calibrated clarify band: `vague` is (nearly) the top share, or the goal is unlike every example goal."""
    best = max(shares[a] for a in APPROACHES)
    return shares["vague"] >= best - cfg.min_margin or top_similarity < cfg.min_similarity


def goal_only_outcome(shares: dict[str, float], top_similarity: float, cfg: AdvisorConfig) -> str:
    """The decision for a goal without data: an approach, or "clarify" (vague goal or near-tie). Used by the CV benchmark."""
    if is_vague(shares, top_similarity, cfg):
        return "clarify"
    ranked = sorted(APPROACHES, key=lambda a: shares[a], reverse=True)
    if shares[ranked[0]] - shares[ranked[1]] < cfg.tie_margin and frozenset(ranked[:2]) in QUESTIONS:
        return "clarify"
    return ranked[0]


def training_time_reason(plan) -> str | None:
    """The plan's expected training time on this machine (``advisor.planner`` writes it from a measured
    tokens/s calibration, fitted to the time budget), as a reason for fine-tune answers."""
    reason = (getattr(plan, "reasons", None) or {}).get("time_estimate")
    return f"Expected training time: {reason}." if reason else None  # the estimate names the machine


class Advisor:
    """Loads the embedding model and anchors once; advise() many goals."""

    def __init__(self, machine: Machine | None = None, base_model: str | None = None, config: AdvisorConfig | None = None,
                 use_tokenizer: bool = True, time_budget_min: float | None = None):
        from advisor.planner import DEFAULT_TIME_BUDGET_MIN

        self.config = config or AdvisorConfig()
        self.time_budget_min = DEFAULT_TIME_BUDGET_MIN if time_budget_min is None else time_budget_min
        self._machine = machine
        self.base_model = base_model
        self.use_tokenizer = use_tokenizer
        self._lock = threading.Lock()

    @property
    def machine(self) -> Machine:
        if self._machine is None:
            from fintune.hardware import detect

            self._machine = detect()
        return self._machine

    def advise(self, goal: str, data: str | Path | None = None) -> Recommendation:
        return self.advise_many([(goal, data)])[0]

    def advise_many(self, items: list[tuple[str, str | Path | None]]) -> list[Recommendation]:
        goals = read_goals([g for g, _ in items], self.config)
        return [self._decide(gs, Path(d) if d else None) for gs, (_, d) in zip(goals, items)]

    # ------------------------------------------------------------------------------------------
    def _decide(self, gs: GoalSignals, data_path: Path | None) -> Recommendation:
        cfg = self.config
        goal_shares = {a: gs.shares[a] for a in APPROACHES}
        ranked = sorted(goal_shares, key=goal_shares.get, reverse=True)
        model_answer = goal_only_outcome(gs.shares, gs.top_similarity, cfg)
        vague = is_vague(gs.shares, gs.top_similarity, cfg)
        tie = None if vague else frozenset(ranked[:2])
        v = goal_verdict(gs.goal, gs.shares, model_answer)

        prof, note, composed, side = None, None, None, None
        warnings: list[str] = []
        if data_path is not None:
            prof = profile(data_path)
            side = data_side(prof.kind, prof.n_rows)
            note = data_reason(prof.summary, prof.kind, prof.n_rows)
            v, composed = with_data(v, prof.kind, prof.n_rows, tie if model_answer == "clarify" else None)
            if side == "rag" and v.approach in ("finetune", "both"):
                warnings.append("These rows look like facts: RAG fits better — index them as a knowledge base and fine-tune only "
                                "the answer style if needed.")
            if side == "finetune" and v.approach == "rag":
                warnings.append(f"The goal reads like RAG, but the data is a {prof.kind.replace('_', ' ')} mapping; "
                                "check you attached the right file.")

        needs = v.approach == "clarify"
        if needs:
            approach = ranked[0]
            question = VAGUE_QUESTION if vague else QUESTIONS[frozenset(ranked[:2])]
            reasons = ([f"Unclear goal: {signal_table()['vague'].reason} → say what the model should produce and from what."]
                       if vague else [f"The goal fits {ranked[0]} and {ranked[1]} about equally → answer the question to settle it."])
            if note:
                reasons.append(note)
            conf = min(goal_shares[ranked[0]], cfg.unclear_confidence_cap)
        else:
            approach, question, conf = v.approach, None, v.confidence
            reasons = lead_reasons(v, gs, note, composed)
            fact = base_model_fact(requested_name(self.base_model), "classification")
            if fact and approach == "finetune" and prof is not None and prof.kind == "label_set":
                reasons.append(f"Measured: {fact} → a fixed label set needs training, not just a prompt.")
            elif fact and approach == "prompt" and prof is None and names_label_list(gs.goal):
                # a generic label set is a prompt job for instruct models in general, but not for every base model
                warnings.append(f"Measured: {fact}. Try the prompt with a few examples first; if it is not accurate "
                                "enough, attach a few hundred labelled rows and the advice becomes a fine-tune.")

        rec = Recommendation(
            goal=gs.goal, approach=approach, confidence=round(float(conf), 2), reasons=reasons, warnings=warnings,
            needs_clarification=needs, question=question,
            next_step=NEXT_STEP[approach] if not needs else "Answer the question above and ask again.",
            data=prof.to_dict() if prof else None, machine=None,
            evidence={
                "decided_by": v.decided_by,
                "criteria": [{"criterion": h.key, "side": h.side, "words": h.words} for h in v.hits],
                "model_answer": model_answer,
                "goal_shares": {k: round(val, 3) for k, val in gs.shares.items()},
                "data_side": side,
                "details": details(gs, approach, cfg),
                "signals": {k: round(val, 3) for k, val in gs.signals.items()},
                "facets": {k: {"clause": f.clause, "like": f.phrase, "similarity": f.similarity} for k, f in gs.facets.items()},
                "axes": axes_dict(gs.axes),
                "features": gs.features,
                "nearest_examples": [{"goal": n.goal, "approach": n.approach, "similarity": n.similarity} for n in gs.neighbours[:3]],
            },
        )
        if approach in ("finetune", "both") and not needs:
            rec.plan = self._plan(gs, prof, data_path)
            rec.machine = self.machine.to_dict()
            time_reason = training_time_reason(rec.plan)
            if time_reason:
                rec.reasons.append(time_reason)
        return rec

    def _plan(self, gs: GoalSignals, prof: DataProfile | None, data_path: Path | None):
        from advisor.lengths import token_stats
        from advisor.modelspec import spec_for
        from advisor.planner import PlanInputs, make_plan

        base = requested_name(self.base_model)
        tokens = None
        if prof is not None and data_path is not None:
            ins, outs, _, _ = load_pairs(data_path)
            tokens = token_stats(ins, outs, base_model=base, use_tokenizer=self.use_tokenizer)
        if prof is not None:
            task = "classification" if prof.kind == "label_set" else "freeform"
        else:
            ft = {k: v for k, v in gs.signals.items() if signal_table()[k].side == "finetune"}
            task = "classification" if ft and max(ft, key=ft.get) == "label_set" else "freeform"
        return make_plan(PlanInputs(machine=self.machine, spec=spec_for(base), base_model=base,
                                    n_rows=prof.n_rows if prof else None, task=task,
                                    labels=prof.labels if prof else None, tokens=tokens,
                                    time_budget_min=self.time_budget_min or None))


_default: Advisor | None = None
_default_lock = threading.Lock()


def default_advisor() -> Advisor:
    global _default
    with _default_lock:
        if _default is None:
            _default = Advisor()
        return _default


def advise(goal: str, data: str | Path | None = None, machine: Machine | None = None, base_model: str | None = None,
           config: AdvisorConfig | None = None) -> Recommendation:
    """One-shot advice. With no machine/base model/config given, reuses the process-wide Advisor."""
    if machine is None and base_model is None and config is None:
        return default_advisor().advise(goal, data)
    return Advisor(machine=machine, base_model=base_model, config=config).advise(goal, data)
