"""Advisor tab (the app's first tab): goal + optional data → a recommendation card and the next step.

Writes ``plan_state`` (``TrainPlan.to_dict()`` or None) for the Train tab; ``ui/app.py`` wires the two
buttons to switch tabs.
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from ui.errors import user_errors

EXAMPLES = [
    "Classify financial news headlines as bullish, bearish or neutral",
    "Explain what financial terms like EBITDA mean",
    "Answer questions about today's market moves in our house style with the usual disclaimer",
    "Summarise a news article in three sentences",
]
PLACEHOLDER = "_Describe your goal and press **Advise**. Attach a sample of your data (CSV/JSONL) for a sharper answer and a training plan._"


@dataclass
class AdvisorTab:
    goal: gr.Textbox
    data: gr.File
    advise_btn: gr.Button
    card: gr.Markdown
    details: gr.Markdown  # the numeric evidence, inside the "Details" accordion
    recommendation: gr.State  # Recommendation.to_dict() or None
    to_train: gr.Button
    to_knowledge: gr.Button


def _file_path(upload) -> str | None:
    if upload is None:
        return None
    return upload if isinstance(upload, str) else getattr(upload, "name", None)


def advise_action(goal: str, upload):
    """(card markdown, recommendation dict, plan dict or None, train button update, knowledge button update,
    details markdown)."""
    from advisor.decide import default_advisor
    from advisor.render import details_markdown, to_markdown

    rec = default_advisor().advise(goal, _file_path(upload))
    wants_train = rec.approach in ("finetune", "both") and rec.plan is not None
    wants_kb = rec.approach in ("rag", "both") and not rec.needs_clarification
    return (
        to_markdown(rec),
        rec.to_dict(),
        rec.plan.to_dict() if rec.plan is not None else None,
        gr.update(visible=wants_train),
        gr.update(visible=wants_kb),
        details_markdown(rec),
    )


def hand_over_upload(rec: dict | None, upload) -> str | None:
    """The upload travels to the Train tab with the plan (None when the advice has no plan)."""
    return _file_path(upload) if rec and rec.get("plan") else None


def build(shared, plan_state: gr.State, handover: gr.State | None = None) -> AdvisorTab:
    """``handover`` (optional) receives the upload's path whenever the advice comes with a training plan."""
    gr.Markdown("## What do you want the model to do?\nThe advisor recommends **RAG**, **fine-tuning**, **both** or a "
                "**plain prompt**, says why, and pre-fills a training plan sized to this machine.")
    with gr.Row():
        with gr.Column(scale=3):
            goal = gr.Textbox(label="Your goal", lines=2, placeholder=EXAMPLES[0], elem_id="advisor-goal")
            gr.Examples(EXAMPLES, inputs=goal, label="Examples")
        with gr.Column(scale=2):
            data = gr.File(label="Optional: your data (CSV / TSV / JSONL / JSON / Parquet with input and output columns)",
                           file_types=[".csv", ".tsv", ".jsonl", ".json", ".parquet"], elem_id="advisor-data")
    advise_btn = gr.Button("Advise", variant="primary", elem_id="advisor-advise")
    card = gr.Markdown(PLACEHOLDER, elem_id="advisor-card", container=True, padding=True)
    with gr.Accordion("Details: how the advisor decided", open=False, elem_id="advisor-details-toggle"):
        details = gr.Markdown("", elem_id="advisor-details")
    recommendation = gr.State(None)
    with gr.Row():
        to_knowledge = gr.Button("Next: build the knowledge base →", visible=False, elem_id="advisor-to-knowledge")
        to_train = gr.Button("Next: train with this plan →", visible=False, variant="primary", elem_id="advisor-to-train")

    outputs = [card, recommendation, plan_state, to_train, to_knowledge, details]
    for trigger in (advise_btn.click, goal.submit):
        event = trigger(user_errors(advise_action), [goal, data], outputs)
        if handover is not None:
            event.success(hand_over_upload, [recommendation, data], handover, api_visibility="private")
    return AdvisorTab(goal=goal, data=data, advise_btn=advise_btn, card=card, details=details, recommendation=recommendation,
                      to_train=to_train, to_knowledge=to_knowledge)
