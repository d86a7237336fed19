"""Train tab: upload -> preview + validation report -> plan (from the Advisor, editable) -> start/stop/resume,
live progress (phase, ETA) and loss/eval-loss plot, and the list of past runs.

Training runs in a background subprocess managed by ``trainer.manager.JobManager``; this tab only
reads the run registry and events on a ``gr.Timer``, so it never blocks and survives page reloads.
Stable ``elem_id``s (``train-*``) are used by the browser tests.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import partial
from typing import Any

import gradio as gr

from trainer.table import FORMATS
from trainer.events import RunSummary
from trainer.plan import CHOICES, TrainPlan
from trainer.registry import LIVE, RunStatus
from ui.errors import user_errors

SHAPE_CHOICES = [("auto-detect", "auto"), ("question / answer", "question_answer"), ("prompt / completion", "prompt_completion"),
                 ("instruction / input / output", "instruction"), ("messages (chat)", "messages"), ("text / label (classification)", "text_label")]
ISSUE_HEADERS = ["severity", "where", "kind", "message"]
STATUS_COLORS = {RunStatus.FAILED: "#C44E52", RunStatus.STOPPED: "#DD8452", RunStatus.COMPLETED: "#55A868"}  # else blue


@dataclass
class TrainTab:
    upload: gr.File
    start: gr.Button
    stop: gr.Button
    resume: gr.Button
    runs: gr.Dataframe
    run_select: gr.Dropdown
    timer: gr.Timer


# ------------------------------------------------------------------------------------------ plan <-> controls
def plan_fields() -> list:
    return TrainPlan.form_fields()


def _info(f, reason: str | None) -> str:
    return f.metadata.get("help", "") + (f" — advisor: {reason}" if reason else "")


def _control(f, value: Any, reason: str | None):
    info = _info(f, reason)
    elem_id = f"train-plan-{f.name.replace('_', '-')}"
    label = f.name.replace("_", " ")
    if f.name in CHOICES:
        return gr.Dropdown(choices=list(CHOICES[f.name]), value=value, label=label, info=info, elem_id=elem_id)
    if f.name in ("lora_target_modules", "base_model"):
        return gr.Textbox(value=value, label=label, info=info, elem_id=elem_id)
    if f.name == "neftune_noise_alpha":
        return gr.Number(value=value, label=label + " (0 = off)", info=info, elem_id=elem_id, minimum=0)
    kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
    if "bool" in kind:
        return gr.Checkbox(value=bool(value), label=label, info=info, elem_id=elem_id)
    if "int" in kind and "float" not in kind:
        return gr.Number(value=value, label=label, info=info, precision=0, elem_id=elem_id)
    return gr.Number(value=value, label=label, info=info, elem_id=elem_id)


def plan_from_values(values: list[Any], reasons: dict | None = None) -> TrainPlan:
    """Controls' values (in ``plan_fields()`` order) -> a validated TrainPlan (TrainerError when invalid)."""
    return TrainPlan.from_user_input({f.name: v for f, v in zip(plan_fields(), values)}, reasons)


def plan_values(plan: TrainPlan) -> list[Any]:
    """The plan as the controls' values, in ``plan_fields()`` order."""
    return list(plan.to_form().values())


def _plan_from_inputs(values: tuple) -> TrainPlan:
    """Event inputs ``[*controls, reasons_state]`` -> the plan."""
    *plan_vals, reasons = values
    return plan_from_values(list(plan_vals), reasons)


def quantization_note(plan: TrainPlan) -> str:
    from trainer.train import quantization_status

    effective, reason = quantization_status(plan)
    return f"**Quantization:** {reason}"


# ------------------------------------------------------------------------------------------ upload + report
def spec_from_controls(columns: list[str] | None, shape: str | None, prompt_col: str | None, completion_col: str | None,
                       label_map: str | None, template: str | None):
    """The column-mapping controls -> a DataSpec, or None to detect it from the file (``DataSpec.from_user_input``)."""
    from trainer.data import DataSpec

    return DataSpec.from_user_input(columns, shape, prompt_col, completion_col, label_map, template)


def inspect_file(path: str | None, plan: TrainPlan, spec=None):
    """(kept path, loaded data, report) for the UI; raises TrainerError with the fix."""
    from trainer.prepare import inspect_upload, keep_upload

    kept = keep_upload(path)
    loaded, report = inspect_upload(kept, spec, plan)
    return kept, loaded, report


def _preview_frame(loaded):
    import pandas as pd

    frame = pd.DataFrame(loaded.preview)
    for column in frame.columns:  # show nested values (messages) as JSON text
        frame[column] = frame[column].map(lambda v: v if isinstance(v, (str, int, float)) or v is None else json.dumps(v)[:300])
    return frame


EMPTY_REPORT = "Upload a file to see its validation report."


def show_report(path: str | None, plan: TrainPlan | None, spec=None) -> tuple:
    """Outputs ``[file_state, columns_state, report, preview, issues, histogram, prompt column, completion column]``."""
    if not path:
        return (None, [], EMPTY_REPORT, None, [], None, gr.update(), gr.update())
    kept, loaded, report = inspect_file(path, plan, spec)
    head = ("✅ " if report.ok else "❌ ") + report.summary()
    cols = loaded.columns
    return (str(kept), cols, head, _preview_frame(loaded), report.issue_rows(), report.histogram_figure(),
            gr.update(choices=cols, value=loaded.spec.prompt_column or loaded.spec.messages_column),
            gr.update(choices=cols, value=loaded.spec.completion_column))


def _report_or_reason(path: str | None, plan: TrainPlan | None) -> tuple:
    """The report for a new file; a file the trainer cannot read shows why and keeps the page usable."""
    from trainer.errors import TrainerError

    try:
        return show_report(path, plan, None)
    except TrainerError as exc:
        return (None, [], f"❌ {exc}", None, [], None, gr.update(choices=[]), gr.update(choices=[]))


@user_errors
def on_upload(path, *plan_inputs):
    return _report_or_reason(path, _plan_from_inputs(plan_inputs) if path else None)


def on_clear():
    return show_report(None, None, None)


@user_errors
def on_recheck(path, columns, shape, p_col, c_col, lmap, tmpl, *plan_inputs):
    if not path:
        raise gr.Error("Upload a file first.")
    return show_report(path, _plan_from_inputs(plan_inputs), spec_from_controls(columns, shape, p_col, c_col, lmap, tmpl))


@user_errors
def on_handover(path, plan_dict):
    """The Advisor's upload arrives with its plan: show its report here, so the user need not upload it again."""
    if not path:
        return (gr.update(), *[gr.update()] * 8)
    plan = TrainPlan.from_dict(plan_dict) if plan_dict else TrainPlan()
    return (gr.update(value=path), *_report_or_reason(path, plan))


def on_plan_state(plan_dict):
    """A plan from the Advisor -> the controls (with its reasons in each field's info), the note and the source line."""
    n = len(plan_fields())
    if not plan_dict:
        return [gr.update()] * (n + 3)
    plan = TrainPlan.from_dict(plan_dict)
    reasons = plan.reasons or {}
    updates = [gr.update(value=value, info=_info(f, reasons.get(f.name))) for f, value in zip(plan_fields(), plan_values(plan))]
    return [*updates, reasons, "**Plan from the Advisor** (edit any field before starting).", quantization_note(plan)]


def on_quant_change(*plan_inputs):
    try:
        return quantization_note(_plan_from_inputs(plan_inputs))
    except Exception:  # noqa: BLE001 - half-edited plan: leave the note as is
        return gr.update()


# ------------------------------------------------------------------------------------------ progress
def progress_html(run, progress) -> str:
    if run is None:
        return "<div id='train-progress-text'>No run selected.</div>"
    pct = int(round(progress.fraction * 100)) if run.status != RunStatus.COMPLETED else 100
    color = STATUS_COLORS.get(run.status, "#4C72B0")
    text = f"{run.name} — {run.status}: {progress.describe()}"
    return (
        f"<div id='train-progress-text' data-status='{run.status}' data-phase='{progress.phase}' data-step='{progress.step}' data-loss-points='{len(progress.loss)}'>{text}</div>"
        f"<div style='background:#e5e7eb;border-radius:6px;height:14px;margin-top:6px'>"
        f"<div id='train-progress-fill' style='width:{pct}%;background:{color};height:14px;border-radius:6px'></div></div>"
    )


def loss_frame(progress):
    import pandas as pd

    rows = [{"step": s, "loss": v, "series": "train loss"} for s, v in progress.loss]
    rows += [{"step": s, "loss": v, "series": "eval loss"} for s, v in progress.eval_loss]
    return pd.DataFrame(rows or [{"step": 0, "loss": None, "series": "train loss"}])


def runs_table() -> list[list[Any]]:
    from trainer.events import summarize_runs

    return [r.row() for r in summarize_runs()]


def run_choices() -> list[tuple[str, str]]:
    from trainer import registry

    return [(r.label(), r.id) for r in registry.list_runs()]


def snapshot(run_id: str | None):
    """Everything the timer refreshes for the selected run."""
    from trainer import registry
    from trainer.errors import TrainerError
    from trainer.events import read_progress

    run = None
    if run_id:
        try:
            run = registry.get_run(run_id)
        except TrainerError:
            run = None
    progress = read_progress(run.run_dir) if run else None
    log = ""
    if run is not None and run.status == RunStatus.FAILED:
        log = (run.error or "") + "\n\n--- end of log.txt ---\n" + registry.log_tail(run.run_dir, 25)
    key = (run.id, run.status, progress.phase, progress.step, len(progress.loss), len(progress.eval_loss), progress.message) if run else None
    return run, progress, log, key


# ------------------------------------------------------------------------------------------ run handlers
@user_errors
def on_start(shared, path, columns, name, shape, p_col, c_col, lmap, tmpl, *plan_inputs):
    """Start (or queue) a run. Outputs ``[selected, run_select, runs, last_key]``."""
    if not path:
        raise gr.Error("Upload a training file first.")
    plan = _plan_from_inputs(plan_inputs)
    spec = spec_from_controls(columns, shape, p_col, c_col, lmap, tmpl)
    jobs = shared.jobs()
    run = jobs.start(path, plan, spec, name=(name or "").strip() or None)
    active = jobs.active()
    note = "started" if run.status == RunStatus.RUNNING else f"queued behind {active.name}" if active else run.status
    gr.Info(f"Run {run.name}: {note}.")
    return run.id, gr.update(choices=run_choices(), value=run.id), runs_table(), None


@user_errors
def on_stop(shared, run_id):
    if not run_id:
        raise gr.Error("Select a run to stop.")
    run = shared.jobs().stop(run_id)
    gr.Info(f"Run {run.name}: {run.status} — it saves a checkpoint at the next step." if run.status == RunStatus.STOPPING
            else f"Run {run.name}: {run.status}.")
    return runs_table(), None


@user_errors
def on_resume(shared, run_id):
    if not run_id:
        raise gr.Error("Select a stopped or failed run to resume.")
    run = shared.jobs().resume(run_id)
    gr.Info(f"Run {run.name}: {run.status}.")
    return runs_table(), None


def on_select(run_id):
    return run_id, None


def on_refresh(run_id):
    return gr.update(choices=run_choices(), value=run_id), runs_table()


def on_tick(run_id, key):
    """Outputs ``[progress, loss_plot, log_box, runs, last_key]``; skips every output when nothing changed."""
    from trainer.events import Progress

    run, prog, log, new_key = snapshot(run_id)
    if new_key == key and key is not None:
        return gr.skip(), gr.skip(), gr.skip(), gr.skip(), key
    table = runs_table()
    if run is None:
        return progress_html(None, None), loss_frame(Progress()), gr.update(visible=False), table, new_key
    return progress_html(run, prog), loss_frame(prog), gr.update(value=log, visible=bool(log)), table, new_key


def on_load(run_id):
    """Page (re)load: follow the active run, else the newest one."""
    from trainer import registry

    if not run_id:
        runs = registry.list_runs()
        active = [r for r in runs if r.status in (*LIVE, RunStatus.QUEUED)]
        follow = (active or runs or [None])[0]
        run_id = follow.id if follow else None
    return run_id, gr.update(choices=run_choices(), value=run_id), runs_table()


# ------------------------------------------------------------------------------------------ layout
def build(shared, plan_state: gr.State, handover: gr.State | None = None) -> TrainTab:
    """Lay out the Train tab. ``plan_state`` (a plan dict) and ``handover`` (the Advisor's upload path) come from the Advisor."""
    gr.Markdown("### Fine-tune a LoRA adapter\nUpload input→output pairs (CSV, TSV, JSON, JSONL or Parquet), check the report, "
                "adjust the plan, and start. Training runs in the background — you can reload the page or close it.")
    file_state = gr.State(None)  # path of the kept upload
    columns_state = gr.State([])  # its columns, for the column mapping
    selected = gr.State(None)  # run id the progress panel follows
    last_key = gr.State(None)

    with gr.Row():
        with gr.Column(scale=1):
            upload = gr.File(label="Training data", file_types=list(FORMATS), type="filepath", elem_id="train-upload")
            with gr.Accordion("Column mapping", open=False, elem_id="train-mapping"):
                shape = gr.Dropdown(SHAPE_CHOICES, value="auto", label="shape", elem_id="train-shape")
                prompt_col = gr.Dropdown([], label="prompt / text column", allow_custom_value=True, elem_id="train-prompt-column")
                completion_col = gr.Dropdown([], label="answer / label column", allow_custom_value=True, elem_id="train-completion-column")
                label_map = gr.Textbox(label="label map (JSON, for numeric labels)", placeholder='{"0": "bearish", "1": "bullish", "2": "neutral"}', elem_id="train-label-map")
                template = gr.Textbox(label="prompt template (optional, with {text})", placeholder="Sentiment of this tweet: {text}", elem_id="train-prompt-template")
                recheck = gr.Button("Re-check with this mapping", size="sm", elem_id="train-recheck")
        with gr.Column(scale=2):
            report_md = gr.Markdown(EMPTY_REPORT, elem_id="train-report")
            preview = gr.Dataframe(label="Preview (first rows)", interactive=False, wrap=True, max_height=260, elem_id="train-preview")
            with gr.Row():
                issues = gr.Dataframe(headers=ISSUE_HEADERS, label="Row issues (line numbers in the file)", interactive=False,
                                      wrap=True, max_height=260, elem_id="train-issues")
                histogram = gr.Plot(label="Token lengths vs. cutoff", elem_id="train-histogram")

    default_plan = TrainPlan()
    with gr.Accordion("Training plan", open=False, elem_id="train-plan"):
        plan_source = gr.Markdown("Defaults (run the Advisor to get a plan sized to your goal and machine).", elem_id="train-plan-source")
        quant_md = gr.Markdown(quantization_note(default_plan), elem_id="train-quantization-note")
        controls = []
        pf, form = plan_fields(), default_plan.to_form()
        for first in range(0, len(pf), 4):
            with gr.Row():
                for f in pf[first:first + 4]:
                    controls.append(_control(f, form[f.name], None))
    reasons_state = gr.State({})

    with gr.Row():
        run_name = gr.Textbox(label="Run name", placeholder="default: the file name", scale=2, elem_id="train-run-name")
        start = gr.Button("Start training", variant="primary", scale=1, elem_id="train-start")
        stop = gr.Button("Stop", variant="stop", scale=1, elem_id="train-stop")
        resume = gr.Button("Resume", scale=1, elem_id="train-resume")
    progress = gr.HTML(progress_html(None, None), elem_id="train-progress")
    loss_plot = gr.LinePlot(x="step", y="loss", color="series", title="Loss", height=260, elem_id="train-loss-plot")
    log_box = gr.Textbox(label="Why it failed (end of the log)", lines=8, visible=False, elem_id="train-log")
    with gr.Row():
        run_select = gr.Dropdown(choices=[], label="Follow run", scale=3, elem_id="train-run-select")
        refresh = gr.Button("Refresh list", size="sm", scale=1, elem_id="train-refresh")
    runs = gr.Dataframe(headers=list(RunSummary.HEADERS), label="Runs", interactive=False, max_height=240, elem_id="train-runs")
    timer = gr.Timer(1.0)

    # ---- wiring: every handler is a module-level function above ------------------------------
    plan_inputs = [*controls, reasons_state]
    mapping = [shape, prompt_col, completion_col, label_map, template]
    report_outputs = [file_state, columns_state, report_md, preview, issues, histogram, prompt_col, completion_col]
    upload.upload(on_upload, [upload, *plan_inputs], report_outputs)
    upload.clear(on_clear, None, report_outputs)
    recheck.click(on_recheck, [file_state, columns_state, *mapping, *plan_inputs], report_outputs)
    plan_state.change(on_plan_state, plan_state, [*controls, reasons_state, plan_source, quant_md])
    if handover is not None:
        handover.change(on_handover, [handover, plan_state], [upload, *report_outputs])
    for f, control in zip(plan_fields(), controls):
        if f.name == "quantization":
            control.change(on_quant_change, plan_inputs, quant_md)

    start.click(partial(on_start, shared), [file_state, columns_state, run_name, *mapping, *plan_inputs],
                [selected, run_select, runs, last_key], api_name="train_tab_start")
    stop.click(partial(on_stop, shared), selected, [runs, last_key], api_name="stop_run")
    resume.click(partial(on_resume, shared), selected, [runs, last_key], api_name="resume_run")
    run_select.change(on_select, run_select, [selected, last_key])
    refresh.click(on_refresh, selected, [run_select, runs], api_name="train_tab_refresh")
    timer.tick(on_tick, [selected, last_key], [progress, loss_plot, log_box, runs, last_key], show_progress="hidden")

    from gradio.context import Context

    root = Context.root_block
    if root is not None:  # inside gr.Blocks: follow the active run whenever a page (re)loads
        root.load(on_load, [selected], [selected, run_select, runs])
    return TrainTab(upload=upload, start=start, stop=stop, resume=resume, runs=runs, run_select=run_select, timer=timer)
