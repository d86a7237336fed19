"""Combine the goal's meaning, the data's shape and the machine into a Recommendation (+ a TrainPlan).

1. Goal: approach shares from the goal classifier (advisor.goal_model: whole-goal readout + knowledge and
   behaviour axes read per clause, stacked), signals from the nearest example goals.
2. Data (optional): its kind adds evidence — a label set or fixed format → fine-tune, unique facts → RAG.
3. Shares are added and renormalised; a knowledge goal with mapping data becomes `both`.
4. Vague goals (closest to the vague examples, or unlike every example) and near-ties ask a question instead
   of guessing; goal/data contradictions raise a warning.
5. For `finetune` / `both` the planner writes the TrainPlan sized to the machine.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from advisor.anchors import signals as signal_table
from advisor.config import APPROACHES, AdvisorConfig
from advisor.data_profile import DataProfile, load_pairs, profile
from advisor.goal import GoalSignals, read_goals
from fintune.hardware import Machine

SIDE_OF = {"rag": {"rag"}, "finetune": {"finetune"}, "both": {"rag", "finetune"}, "prompt": {"prompt"}}
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


def _data_evidence(p: DataProfile) -> tuple[dict[str, float], str]:
    """(approach -> evidence, reason sentence) for the data's kind."""
    n = p.n_rows
    if p.kind == "label_set":
        if n >= 1000:  # more labelled rows than any prompt can hold: the data itself defines the mapping
            return {"finetune": 1.0}, f"data: {p.summary} → a mapping the model can learn; far more examples than fit in a prompt"
        if n >= 200:
            return {"finetune": 0.6}, f"data: {p.summary} → a mapping the model can learn"
        if n >= 50:
            return {"finetune": 0.3}, f"data: {p.summary} → enough for a small adapter, more examples would help"
        return {"prompt": 0.4}, f"data: {p.summary} → few enough to paste as few-shot examples, too few to fine-tune"
    if p.kind == "format":
        return {"finetune": 0.5 if n >= 100 else 0.25}, f"data: {p.summary} → a consistent output format fine-tuning learns"
    if p.kind == "facts":
        return {"rag": 0.6}, f"data: {p.summary} → knowledge to retrieve, not a mapping (LoRA learns new facts only after 10-20 epochs)"
    if p.kind == "grounded":
        return {"rag": 0.4, "both": 0.2}, f"data: {p.summary} → the answers come from passages, which retrieval supplies at question time"
    if p.kind == "too_small":
        return {"prompt": 0.3}, f"data: {p.summary}"
    return {"finetune": 0.4 if n >= 200 else 0.2}, f"data: {p.summary} → a transformation fine-tuning can learn from examples"


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


def _axes_dict(axes) -> dict:
    if axes is None:
        return {}
    return {"knowledge": round(axes.knowledge, 3), "behaviour": round(axes.behaviour, 3),
            "knowledge_part": {"clause": axes.knowledge_part[0], "score": round(axes.knowledge_part[1], 3)},
            "behaviour_part": {"clause": axes.behaviour_part[0], "score": round(axes.behaviour_part[1], 3)},
            "compound": round(axes.compound, 3), "compound_parts": list(axes.compound_parts) if axes.compound_parts else None}


def _one_axis_reason(axis: str, part: tuple[str, float], need: str, remedy: str, technique: str) -> str:
    """One axis's reason; below 0.5 no clause carries the need, so the reason says the whole goal decided."""
    clause, score = part
    if score >= 0.5:
        return f'{axis} axis {score:.2f}: "{clause}" asks for {need} → {remedy}'
    return (f"{axis} axis {score:.2f} (weak): no single part clearly asks for {need.split(' (')[0]}; the goal as a whole "
            f"reads like the example goals that need {technique} → check the nearest examples below")


def _axis_reasons(gs: GoalSignals, approach: str) -> list[str]:
    """Name the axis behind the answer and the clause it was read on."""
    ax = gs.axes
    if ax is None:
        return []
    out = []
    if approach == "both" and ax.compound_parts and ax.compound >= 0.5:
        k_part, b_part = ax.compound_parts
        out.append(f'knowledge + behaviour: the part "{k_part}" needs facts the model cannot know and the part "{b_part}" '
                   f'asks for a learned output (compound score {ax.compound:.2f}) → retrieval for the facts, a fine-tuned adapter for the behaviour')
    elif approach in ("rag", "both"):
        out.append(_one_axis_reason("knowledge", ax.knowledge_part, "specific, current or documented facts",
                                    "retrieval supplies them", "retrieval"))
    if approach == "finetune" or (approach == "both" and not (ax.compound_parts and ax.compound >= 0.5)):
        out.append(_one_axis_reason("behaviour", ax.behaviour_part, "a learned output (labels, format, style or domain language)",
                                    "fine-tuning learns it from examples", "fine-tuning"))
    if approach == "prompt":
        out.append(f"task type: neither specific knowledge (axis {max(ax.knowledge, ax.knowledge_part[1] * 0.5):.2f}) nor a learned "
                   f"output (axis {max(ax.behaviour, ax.behaviour_part[1] * 0.5):.2f}) → a generic task an instruct model does from a prompt")
    return out


def _signal_reasons(gs: GoalSignals, approach: str, cfg: AdvisorConfig) -> list[str]:
    table = signal_table()
    wanted = SIDE_OF[approach]
    out, seen = [], set()
    for key, facet in sorted(gs.facets.items(), key=lambda kv: -kv[1].similarity):
        if table[key].side in wanted and facet.similarity >= cfg.both_facet_threshold and facet.clause != gs.goal:
            out.append(f'{table[key].name}: the part "{facet.clause}" → {table[key].reason.split("→", 1)[-1].strip()}')
            seen.add(key)
    for key, share in gs.signals.items():
        if key in seen or share < cfg.signal_threshold or table[key].side not in wanted:
            continue
        out.append(f'{table[key].name}: {table[key].reason} (closest example goal: "{gs.signal_examples[key]}")')
    return out


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
        vague = gs.shares["vague"]
        reasons: list[str] = []
        warnings: list[str] = []
        prof = None
        data_ev: dict[str, float] = {}
        data_reason = None
        if data_path is not None:
            prof = profile(data_path)
            data_ev, data_reason = _data_evidence(prof)

        combined = {a: goal_shares[a] + cfg.data_weight * data_ev.get(a, 0.0) for a in APPROACHES}
        total = sum(combined.values()) or 1.0
        combined = {a: v / total for a, v in combined.items()}
        ranked = sorted(combined, key=combined.get, reverse=True)
        approach, runner_up = ranked[0], ranked[1]
        goal_best = max(goal_shares, key=goal_shares.get)

        # The goal classifier already weighs compound goals (knowledge in one clause, behaviour in another);
        # attached mapping data can still turn a knowledge goal into `both`.
        composed = None
        mapping_data = prof is not None and prof.kind in ("label_set", "format") and prof.n_rows >= 200
        if mapping_data and goal_best == "rag" and approach in ("rag", "finetune"):
            composed = "the goal needs knowledge while the data teaches a mapping"
            approach, runner_up = "both", ranked[0]

        # Contradiction between goal and data.
        if prof is not None and prof.kind == "facts" and goal_best in ("finetune", "both"):
            warnings.append("These rows look like facts: RAG fits better — index them as a knowledge base and fine-tune only "
                            "the answer style if needed.")
        if mapping_data and goal_best == "rag" and not composed:
            warnings.append(f"The goal reads like {goal_best.upper()}, but the data is a {prof.kind.replace('_', ' ')} mapping; "
                            "check you attached the right file.")

        # Vague / ambiguous → ask.
        needs, question = False, None
        margin = combined[ranked[0]] - combined[ranked[1]]
        if is_vague(gs.shares, gs.top_similarity, cfg):
            needs, question = True, VAGUE_QUESTION
            reasons.append(f"unclear goal: {signal_table()['vague'].reason} (closest example goal: \"{gs.neighbours[0].goal}\")")
        elif (not composed and margin < cfg.tie_margin and frozenset({ranked[0], ranked[1]}) in QUESTIONS
              and not (mapping_data and approach == "finetune")):  # hundreds of labelled rows answer "prompt or fine-tune?"
            needs, question = True, QUESTIONS[frozenset({ranked[0], ranked[1]})]
            reasons.append(f"ambiguous goal: {ranked[0]} ({combined[ranked[0]]:.0%}) and {ranked[1]} "
                           f"({combined[ranked[1]]:.0%}) are nearly tied")

        if not needs:
            reasons.extend(_axis_reasons(gs, approach))
            reasons.extend(_signal_reasons(gs, approach, cfg))
        if data_reason:
            reasons.append(data_reason)
        if composed:
            reasons.append(f"both: {composed} → retrieval for the facts, a fine-tuned adapter for the behaviour")
        if not needs:
            nb = next((n for n in gs.neighbours if n.approach == approach), gs.neighbours[0])
            reasons.append(f'nearest example: "{nb.goal}" ({nb.approach}, similarity {nb.similarity:.2f}) → '
                           f'goal shares {", ".join(f"{a} {goal_shares[a]:.0%}" for a in sorted(goal_shares, key=goal_shares.get, reverse=True)[:2])}')

        if composed:
            conf = min(0.9, 0.5 + 0.5 * (combined["rag"] + combined["both"] + combined["finetune"]) * 0.8)
        else:
            conf = combined[approach] * (1 - vague)
        conf = min(conf, cfg.unclear_confidence_cap) if needs else min(conf, 0.95)

        rec = Recommendation(
            goal=gs.goal, approach=approach, confidence=round(float(conf), 2), reasons=reasons, warnings=warnings,
            needs_clarification=needs, question=question, next_step=NEXT_STEP[approach] if not needs else "Answer the question above and ask again.",
            data=prof.to_dict() if prof else None, machine=None,
            evidence={
                "goal_shares": {k: round(v, 3) for k, v in gs.shares.items()},
                "data_evidence": data_ev,
                "combined_shares": {k: round(v, 3) for k, v in combined.items()},
                "signals": {k: round(v, 3) for k, v in gs.signals.items()},
                "facets": {k: {"clause": f.clause, "like": f.phrase, "similarity": f.similarity} for k, f in gs.facets.items()},
                "axes": _axes_dict(gs.axes),
                "features": gs.features,
                "nearest_examples": [{"goal": n.goal, "approach": n.approach, "similarity": n.similarity} for n in gs.neighbours[:3]],
            },
        )
        if approach in ("finetune", "both") and not needs:
            rec.plan = self._plan(gs, prof, data_path)
            rec.machine = self.machine.to_dict()
        return rec

    def _plan(self, gs: GoalSignals, prof: DataProfile | None, data_path: Path | None):
        from advisor.lengths import token_stats
        from advisor.modelspec import spec_for
        from advisor.planner import PlanInputs, make_plan
        from fintune.models import requested_name

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
