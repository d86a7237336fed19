"""Reasons a user can act on, and the numeric evidence behind them.

``lead_reasons`` says in the user's terms why the answer fits: the criterion the goal states (quoting the
goal's words), the shape of the attached data, and a measured fact about the base model on this kind of task.
``details`` keeps the classifier's own readings (axes, nearest example goals, signals) for the "details"
toggle in the UI and ``evidence.details`` in the JSON.
"""

from __future__ import annotations

import json
from functools import lru_cache

from advisor.anchors import DATA_DIR
from advisor.anchors import signals as signal_table
from advisor.config import APPROACHES, AdvisorConfig
from advisor.goal import GoalSignals
from advisor.verdict import Verdict

SIDE_OF = {"rag": {"rag"}, "finetune": {"finetune"}, "both": {"rag", "finetune"}, "prompt": {"prompt"}}
TECHNIQUE = {"rag": "retrieval", "finetune": "fine-tuning", "both": "retrieval plus fine-tuning", "prompt": "a prompt"}


@lru_cache(maxsize=1)
def _base_model_facts() -> dict:
    return json.loads((DATA_DIR / "base_model_facts.json").read_text(encoding="utf-8"))


def base_model_fact(base_model: str, task: str) -> str | None:
    """A measured fact about this base model on this kind of task, when one was measured."""
    return _base_model_facts().get(base_model, {}).get(task)


def _model_reason(gs: GoalSignals, approach: str) -> str:
    """The goal model's answer in plain words: the part of the goal it heard, or the example goal it resembles."""
    ax = gs.axes
    nb = next((n for n in gs.neighbours if n.approach == approach), gs.neighbours[0] if gs.neighbours else None)
    like = f' — it reads like the example goal "{nb.goal}"' if nb is not None else ""
    if approach == "both" and ax is not None and ax.compound_parts and ax.compound >= 0.5:
        k, b = ax.compound_parts
        return (f'"{k}" needs facts the model cannot know, and "{b}" asks for a learned way of answering → '
                "retrieval for the facts, a fine-tuned adapter for the behaviour.")
    if approach in ("rag", "both") and ax is not None and ax.knowledge_part[1] >= 0.5:
        return f'"{ax.knowledge_part[0]}" needs specific, current or documented facts → retrieval supplies them{like}.'
    if approach == "finetune" and ax is not None and ax.behaviour_part[1] >= 0.5:
        return (f'"{ax.behaviour_part[0]}" asks for a learned output (your labels, format, style or domain language) → '
                f"fine-tuning learns it from examples{like}.")
    if approach == "prompt":
        return ("The goal is a generic task and asks neither for facts the model cannot know nor for your own labels, "
                f"format or style → the base instruct model does it from a clear prompt with a few examples{like}.")
    need = {"rag": "facts the model cannot know (definitions, your documents, current figures) → retrieval supplies them",
            "finetune": "a learned output (your labels, format, style or domain language) → fine-tuning learns it from examples",
            "both": "facts the model cannot know and a learned way of answering → retrieval for the facts, a fine-tuned "
                    "adapter for the behaviour"}[approach]
    return f"The goal as a whole is worded like goals that need {need}{like}."


def data_reason(summary: str, kind: str, n_rows: int) -> str:
    """The data's shape in the user's terms, and what it means for the choice."""
    if kind == "label_set":
        if n_rows >= 1000:
            tail = "far more examples than fit in a prompt; a fine-tuned adapter learns this mapping"
        elif n_rows >= 200:
            tail = "enough to learn the mapping with a fine-tuned adapter"
        elif n_rows >= 50:
            tail = "enough for a small adapter; more examples would help"
        else:
            tail = "few enough to paste as few-shot examples, too few to fine-tune"
    elif kind == "format":
        tail = "a consistent output format that fine-tuning learns"
    elif kind == "facts":
        tail = "knowledge to retrieve, not a mapping to learn (LoRA learns new facts only after 10-20 epochs)"
    elif kind == "grounded":
        tail = "the answers come from passages, which retrieval supplies at question time"
    elif kind == "too_small":
        return f"Your data: {summary}."
    else:
        tail = "a transformation fine-tuning can learn from examples"
    return f"Your data: {summary} → {tail}."


def lead_reasons(v: Verdict, gs: GoalSignals, data_note: str | None, composed: str | None) -> list[str]:
    """The one or two deciding reasons, then the data's."""
    if v.decided_by == "data":  # the data settled it: its shape leads, then what the goal alone said
        said = v.model_answer if v.model_answer in TECHNIQUE else "unclear"
        goal_alone = (f"On its own the goal reads like a job for {TECHNIQUE[said]}" if said != "unclear"
                      else "On its own the goal fits more than one approach")
        out = [data_note] if data_note else []
        out.append(f"{goal_alone}; your data decides → {TECHNIQUE[v.approach]}.")
        if composed:
            out.append(f"Both: {composed} → retrieval for the facts, a fine-tuned adapter for the behaviour.")
        return out
    out = [h.reason() for h in v.deciding_hits()] if v.decided_by.startswith("stated") else []
    if v.decided_by == "stated_model_other":  # the stated side, then the side the goal model heard
        out.append(_model_reason(gs, v.model_answer))
    elif v.decided_by == "stated_model_both" or not out:
        out.append(_model_reason(gs, v.approach))
    if data_note:
        out.append(data_note)
    if composed:
        out.append(f"Both: {composed} → retrieval for the facts, a fine-tuned adapter for the behaviour.")
    return out


# ---- details: the classifier's own readings --------------------------------------------------------------
def axes_dict(axes) -> dict:
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


def axis_reasons(gs: GoalSignals, approach: str) -> list[str]:
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


def signal_reasons(gs: GoalSignals, approach: str, cfg: AdvisorConfig) -> list[str]:
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


def details(gs: GoalSignals, approach: str, cfg: AdvisorConfig) -> list[str]:
    """The technical readings behind the goal model's share, for the "details" toggle."""
    shares = {a: gs.shares[a] for a in APPROACHES}
    top = sorted(shares, key=shares.get, reverse=True)[:2]
    out = axis_reasons(gs, approach) + signal_reasons(gs, approach, cfg)
    if gs.neighbours:
        nb = next((n for n in gs.neighbours if n.approach == approach), gs.neighbours[0])
        out.append(f'nearest example: "{nb.goal}" ({nb.approach}, similarity {nb.similarity:.2f}) → '
                   f'goal shares {", ".join(f"{a} {shares[a]:.0%}" for a in top)}')
    return out
