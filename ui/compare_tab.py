"""Compare tab: one question answered by the base model, a fine-tuned run and base + glossary (RAG), side by
side and streamed with the same generation settings; an optional blind mode; and the chosen run's
held-out evaluation (table, confusion matrix, best/worst examples, regression check).

The base pane calls the engine with ``adapter=None``, which disables every loaded adapter, so it is the
pure base model even after the fine-tuned pane has used the adapter. Panes are filled one after another
(the engine serialises generation anyway); in blind mode they are filled in pane order, so the order
gives nothing away, and the RAG sources stay hidden until the reveal.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Iterator

import gradio as gr

from fintune.engine import GenerationSettings
from fintune.errors import FinTuneError
from ui.errors import user_errors
from ui.streaming import paced

KINDS = ("base", "tuned", "rag")
PANE_IDS = ("compare-pane-1", "compare-pane-2", "compare-pane-3")
BLIND_NAMES = ("Answer A", "Answer B", "Answer C")
WAITING = "…waiting for its turn"
NO_RUN = "(Pick a fine-tuned run above to fill this pane.)"

METRIC_HEADERS = ["metric", "base", "fine-tuned", "change"]
EXAMPLE_HEADERS = ["kind", "prompt", "reference", "base answer", "fine-tuned answer", "base score", "fine-tuned score"]
REGRESSION_HEADERS = ["question", "reference", "base answer", "fine-tuned answer", "base score", "fine-tuned score"]


def kind_label(kind: str, run_name: str | None = None) -> str:
    return {"base": "Base model (adapters off)",
            "tuned": f"Fine-tuned: {run_name}" if run_name else "Fine-tuned run",
            "rag": "Base + glossary (RAG)"}[kind]


# ----------------------------------------------------------------------------------------- runs
def run_choices() -> list[tuple[str, str]]:
    """(label, run id) for every run with a trained adapter, newest first."""
    from trainer.registry import list_runs

    return [(f"{r.name} [{r.status}] ({r.id})", r.id) for r in list_runs() if r.adapter_dir is not None]


def refreshed_runs(current: str | None):
    try:
        choices = run_choices()
    except FinTuneError:
        choices = []
    ids = [v for _, v in choices]
    return gr.Dropdown(choices=choices, value=current if current in ids else (ids[0] if ids else None))


def _run_info(run_id: str | None):
    if not run_id:
        return None
    from trainer.registry import get_run

    return get_run(run_id)


# ----------------------------------------------------------------------------------------- answers
def pane_order(blind: bool, rng: random.Random | None = None) -> list[str]:
    """Which model fills which pane: fixed (base, tuned, rag) or shuffled for blind judging."""
    order = list(KINDS)
    if blind:
        (rng or random.SystemRandom()).shuffle(order)
    return order


def pane_labels(order: list[str], blind: bool, revealed: bool, run_name: str | None) -> list[str]:
    if blind and not revealed:
        return list(BLIND_NAMES)
    names = [kind_label(k, run_name) for k in order]
    return [f"{BLIND_NAMES[i]} = {n}" for i, n in enumerate(names)] if blind else names


def compare_stream(shared, question: str, adapter: str | None, settings,
                   order: list[str] | None = None) -> Iterator[tuple[list[str], str]]:
    """Yield ``(pane texts, sources markdown)`` while the three answers stream in pane order. The glossary pane
    is the app's one knowledge answer path (``rag.answer``), the same as Chat with the glossary on.

    A failure in one pane (say the glossary index is missing) is shown in that pane; the others still answer.
    """
    from trainer.predict import classifier_run, classify, label_markdown

    order = order or list(KINDS)
    texts = [WAITING] * 3
    sources = ""
    engine = shared.engine()
    classifier = classifier_run(adapter)
    for pane, kind in enumerate(order):
        if kind == "tuned" and not adapter:
            texts[pane] = NO_RUN
            yield list(texts), sources
            continue
        texts[pane] = ""
        try:
            if classifier is not None and kind in ("base", "tuned"):
                # a classification run: both models score the run's labels on its training prompt, as in evaluation
                scores = classify(engine, classifier, question, with_adapter=kind == "tuned")
                texts[pane] = label_markdown(scores, classifier, "The fine-tuned run" if kind == "tuned" else "Scored this way, the base")
                yield list(texts), sources
                continue
            if kind == "rag":
                from rag.answer import GroundedAnswer, answer_stream

                items = answer_stream(question, shared.glossary(), engine, settings=settings)
            else:
                items = engine.stream([{"role": "user", "content": question}], settings, adapter=adapter if kind == "tuned" else None)
            for item in items:
                if isinstance(item, str):
                    texts[pane] += item
                else:  # the glossary answer, finished: its text as checked, and what it cites
                    texts[pane], sources = item.text, item.sources_markdown()
                yield list(texts), sources
            texts[pane] = texts[pane].strip() or "(empty answer)"
        except FinTuneError as exc:
            texts[pane] = f"⚠ {exc}"
        yield list(texts), sources


# ----------------------------------------------------------------------------------------- evaluation view
def render_report(report: dict | None, run_dir: str | Path | None = None) -> tuple[str, Any, Any, Any, Any]:
    """(summary markdown, metrics table, confusion-matrix image or None, examples table, regression table)
    for a stored evaluation report; the Train tab can reuse this."""
    from trainer.evaluate import CONFUSION_PNG, report_to_dataframes

    if not report:
        return ("No evaluation yet for this run. Click **Evaluate this run** (it answers the held-out rows with both models; "
                "a few minutes on a CPU), or run `fintune eval RUN`.", *_no_tables())
    frames = report_to_dataframes(report)
    lines = [f"**{report.get('run_name') or report['run_id']}** — {report['task']}, {report['n_examples']} held-out examples"
             f" (greedy, max {report['settings']['max_new_tokens']} new tokens), evaluated {report.get('created_at', '')}."]
    if report["task"] == "classification":
        lines.append(f"Labels: {', '.join(report['labels'])}. Answers that name no label count as wrong (row *not a label*).")
    reg = report.get("regression")
    if reg:
        lines.append(("⚠ " if reg["flagged"] else "✓ ") + reg["verdict"])
    image = None
    if report.get("confusion_matrix_png") and run_dir is not None:
        path = Path(run_dir) / CONFUSION_PNG
        if path.is_file():
            from PIL import Image

            with Image.open(path) as img:  # served as pixels: the run folder is outside Gradio's allowed paths
                image = img.convert("RGB")
    return "\n\n".join(lines), frames["metrics"], image, frames["examples"], frames["regression"]


def _empty(headers: list[str]):
    import pandas as pd

    return pd.DataFrame(columns=headers)


def _no_tables():
    """Empty metrics table, no image, empty examples and regression tables."""
    return _empty(METRIC_HEADERS), None, _empty(EXAMPLE_HEADERS), _empty(REGRESSION_HEADERS)


def load_eval_view(run_id: str | None):
    """The ``render_report`` outputs for a run id (from its stored eval.json)."""
    if not run_id:
        return ("Pick a fine-tuned run to see its evaluation.", *_no_tables())
    from trainer.evaluate import load_report

    info = _run_info(run_id)
    return render_report(load_report(info.run_dir), info.run_dir)


# ----------------------------------------------------------------------------------------- layout
@dataclass
class CompareTab:
    run: gr.Dropdown
    question: gr.Textbox
    panes: list[gr.Textbox]
    sources: gr.Markdown
    eval_summary: gr.Markdown
    eval_table: gr.Dataframe
    confusion: gr.Image
    examples: gr.Dataframe
    regression: gr.Dataframe

    @property
    def eval_outputs(self) -> list:
        return [self.eval_summary, self.eval_table, self.confusion, self.examples, self.regression]

    def wire_page_load(self, demo: gr.Blocks) -> None:
        """On every page load: the current list of runs, then the chosen run's evaluation."""
        demo.load(refreshed_runs, self.run, self.run).then(user_errors(load_eval_view), self.run, self.eval_outputs)


def build(shared) -> CompareTab:
    try:
        initial = run_choices()
        first_view = load_eval_view(initial[0][1] if initial else None)
    except FinTuneError:
        initial, first_view = [], ("", *_no_tables())
    gr.Markdown("Ask one question; the base model, a fine-tuned run and the base model with glossary retrieval answer it "
                "side by side with the **same generation settings**. Turn on blind mode to judge without knowing which is which.")
    with gr.Row():
        run = gr.Dropdown(choices=initial, value=initial[0][1] if initial else None, label="Fine-tuned run", scale=4,
                          elem_id="compare-run", info="Runs with a trained adapter (see the Train tab).")
        refresh = gr.Button("Refresh runs", size="sm", scale=1, elem_id="compare-refresh")
        blind = gr.Checkbox(label="Blind mode", value=False, scale=1, elem_id="compare-blind",
                            info="Shuffle the panes and hide their names until you reveal them.")
    with gr.Row():
        question = gr.Textbox(placeholder="e.g. Is this tweet bullish? 'Apple beats estimates and raises guidance'",
                              show_label=False, scale=5, elem_id="compare-question")
        ask = gr.Button("Compare", variant="primary", scale=1, elem_id="compare-ask")
        stop = gr.Button("Stop", scale=1, elem_id="compare-stop")
    with gr.Accordion("Generation settings (used for all three panes)", open=False):
        with gr.Row():
            temperature = gr.Slider(0, 1.5, value=0.0, step=0.05, label="Temperature", info="0 = greedy: the fairest comparison")
            top_p = gr.Slider(0.05, 1, value=GenerationSettings.top_p, step=0.05, label="Top-p")
            max_new_tokens = gr.Slider(16, 1024, value=GenerationSettings.max_new_tokens, step=16, label="Max new tokens")
            repetition_penalty = gr.Slider(1.0, 2.0, value=GenerationSettings.repetition_penalty, step=0.05, label="Repetition penalty")
    panes = []
    with gr.Row(equal_height=True):
        for i, kind in enumerate(KINDS):
            panes.append(gr.Textbox(label=kind_label(kind), lines=12, max_lines=30, interactive=False, elem_id=PANE_IDS[i],
                                    buttons=["copy"]))
    reveal = gr.Button("Reveal which is which", visible=False, elem_id="compare-reveal")
    sources = gr.Markdown("", elem_id="compare-sources")
    order_state = gr.State(list(KINDS))  # per user: which model is in which pane
    name_state = gr.State(None)  # per user: the run name shown on reveal
    sources_state = gr.State("")  # per user: RAG sources, held back until the reveal in blind mode

    gr.Markdown("### Held-out evaluation of this run")
    eval_summary = gr.Markdown(first_view[0], elem_id="compare-eval-summary")
    with gr.Row():
        with gr.Column(scale=1):
            eval_table = gr.Dataframe(value=first_view[1], headers=METRIC_HEADERS, interactive=False, wrap=True,
                                      elem_id="compare-eval-table", label="Base vs fine-tuned")
            evaluate = gr.Button("Evaluate this run", elem_id="compare-evaluate")
        with gr.Column(scale=1):
            confusion = gr.Image(value=first_view[2], label="Confusion matrix (classification runs)", type="pil",
                                 interactive=False, elem_id="compare-confusion", buttons=["download"])
    with gr.Accordion("Best and worst examples", open=False):
        examples = gr.Dataframe(value=first_view[3], headers=EXAMPLE_HEADERS, interactive=False, wrap=True, elem_id="compare-eval-examples")
    with gr.Accordion("General questions (regression check)", open=False):
        regression = gr.Dataframe(value=first_view[4], headers=REGRESSION_HEADERS, interactive=False, wrap=True,
                                  elem_id="compare-eval-regression")
    tab = CompareTab(run=run, question=question, panes=panes, sources=sources, eval_summary=eval_summary,
                     eval_table=eval_table, confusion=confusion, examples=examples, regression=regression)

    ask_inputs = [question, run, blind, temperature, top_p, max_new_tokens, repetition_penalty]
    ask_outputs = [*panes, sources, order_state, name_state, sources_state, reveal]
    answer_with = partial(answer, shared)
    submit = question.submit(answer_with, ask_inputs, ask_outputs)
    click = ask.click(answer_with, ask_inputs, ask_outputs)
    stop.click(None, cancels=[submit, click])
    reveal.click(do_reveal, [order_state, name_state, sources_state], [*panes, sources, reveal])
    refresh.click(refreshed_runs, run, run)
    run.change(user_errors(load_eval_view), run, tab.eval_outputs)
    evaluate.click(run_evaluation, run, tab.eval_outputs)
    return tab


@user_errors
@paced
def answer(shared, question_text, run_id, blind_on, temp, topp, max_new, rep):
    """Stream the three panes (in blind mode shuffled and unnamed; the sources held back until the reveal)."""
    question_text = (question_text or "").strip()
    if not question_text:
        raise gr.Error("Type a question first.")
    info = _run_info(run_id)
    if blind_on and info is None:
        raise gr.Error("Blind mode needs a fine-tuned run: pick one above (or turn blind mode off).")
    adapter = str(info.adapter_dir) if info is not None and info.adapter_dir else None
    name = info.name if info is not None else None
    settings = GenerationSettings(temperature=temp, top_p=topp, max_new_tokens=int(max_new), repetition_penalty=rep)
    blind_on = bool(blind_on)
    order = pane_order(blind_on)
    labels = pane_labels(order, blind_on, False, name)
    for texts, src in compare_stream(shared, question_text, adapter, settings, order=order):
        yield (*[gr.Textbox(value=t, label=lab) for t, lab in zip(texts, labels)],
               "" if blind_on else src, order, name, src, gr.Button(visible=blind_on))


def do_reveal(order, name, held_sources):
    """Name the panes and show the held-back sources."""
    labels = pane_labels(order, True, True, name)
    return (*[gr.Textbox(label=lab) for lab in labels], held_sources, gr.Button(visible=False))


@user_errors
def run_evaluation(run_id, progress=gr.Progress()):
    """(Re)compute the chosen run's held-out evaluation and show it."""
    from trainer.evaluate import evaluate_run

    info = _run_info(run_id)
    if info is None:
        raise gr.Error("Pick a fine-tuned run first.")
    report = evaluate_run(info.run_dir, progress=lambda frac, msg: progress(frac, desc=msg))
    return render_report(report, info.run_dir)
