"""Train tab: upload -> preview + validation report -> plan (from the Advisor, editable) -> start/stop/resume,
live progress (phase, ETA) and loss/eval-loss plot, and the list of past runs.

Training runs in a background subprocess managed by ``trainer.manager.JobManager``; this tab only
reads the run registry and events on a ``gr.Timer``, so it never blocks and survives page reloads.
Stable ``elem_id``s (``train-*``) are used by the browser tests.
"""

from __future__ import annotations

import json
import typing
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import gradio as gr

from trainer.plan import DTYPES, OPTIMIZERS, QUANTIZATIONS, SCHEDULERS, TrainPlan
from trainer.registry import LIVE, RunStatus
from ui.errors import user_errors

SHAPE_CHOICES = [("auto-detect", "auto"), ("question / answer", "question_answer"), ("prompt / completion", "prompt_completion"),
                 ("instruction / input / output", "instruction"), ("messages (chat)", "messages"), ("text / label (classification)", "text_label")]
CHOICE_FIELDS = {"optimizer": OPTIMIZERS, "lr_scheduler": SCHEDULERS, "quantization": QUANTIZATIONS, "compute_dtype": DTYPES}
HIDDEN_FIELDS = ("reasons", "memory_estimate")
ISSUE_HEADERS = ["severity", "where", "kind", "message"]
RUN_HEADERS = ["id", "name", "status", "step", "loss", "eval loss", "task", "created"]


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
    return [f for f in fields(TrainPlan) if f.name not in HIDDEN_FIELDS]


def _control(f, value: Any, reason: str | None):
    info = f.metadata.get("help", "") + (f" — advisor: {reason}" if reason else "")
    elem_id = f"train-plan-{f.name.replace('_', '-')}"
    label = f.name.replace("_", " ")
    if f.name in CHOICE_FIELDS:
        return gr.Dropdown(choices=list(CHOICE_FIELDS[f.name]), value=value, label=label, info=info, elem_id=elem_id)
    if f.name == "lora_target_modules":
        text = value if isinstance(value, str) else ", ".join(value)
        return gr.Textbox(value=text, label=label, info=info, elem_id=elem_id)
    if f.name == "base_model":
        return gr.Textbox(value=value, label=label, info=info, elem_id=elem_id)
    if f.name == "neftune_noise_alpha":
        return gr.Number(value=value or 0, label=label + " (0 = off)", info=info, elem_id=elem_id, minimum=0)
    kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
    if "bool" in kind:
        return gr.Checkbox(value=bool(value), label=label, info=info, elem_id=elem_id)
    if "int" in kind and "float" not in kind:
        return gr.Number(value=value, label=label, info=info, precision=0, elem_id=elem_id)
    return gr.Number(value=value, label=label, info=info, elem_id=elem_id)


def plan_from_values(values: list[Any], reasons: dict | None = None) -> TrainPlan:
    """Controls' values (in ``plan_fields()`` order) -> a validated TrainPlan (TrainerError when invalid)."""
    data: dict[str, Any] = {}
    for f, value in zip(plan_fields(), values):
        if f.name == "lora_target_modules":
            text = str(value or "").strip()
            value = "all-linear" if text in ("", "all-linear") else [t.strip() for t in text.split(",") if t.strip()]
        elif f.name == "neftune_noise_alpha":
            value = float(value) if value else None
        elif isinstance(value, float) and value.is_integer() and ("int" in str(f.type) and "float" not in str(f.type)):
            value = int(value)
        data[f.name] = value
    data["reasons"] = reasons or {}
    return TrainPlan.from_dict(data)


def plan_values(plan: TrainPlan) -> list[Any]:
    out = []
    for f in plan_fields():
        value = getattr(plan, f.name)
        if f.name == "lora_target_modules" and not isinstance(value, str):
            value = ", ".join(value)
        if f.name == "neftune_noise_alpha":
            value = value or 0
        out.append(value)
    return out


def quantization_note(plan: TrainPlan) -> str:
    from trainer.train import quantization_status

    effective, reason = quantization_status(plan)
    return f"**Quantization:** {reason}"


# ------------------------------------------------------------------------------------------ upload + report
def _spec_from_controls(shape: str, prompt_col: str | None, completion_col: str | None, label_map: str, template: str):
    from trainer.data import DataSpec
    from trainer.errors import TrainerError

    if shape in (None, "", "auto") and not label_map.strip() and not template.strip():
        return None
    label_names = None
    if label_map.strip():
        try:
            label_names = json.loads(label_map)
        except json.JSONDecodeError as exc:
            raise TrainerError(f"The label map is not valid JSON ({exc.msg}). Write it like {{\"0\": \"bearish\", \"1\": \"bullish\"}}.") from None
        if not isinstance(label_names, dict):
            raise TrainerError('The label map must be a JSON object such as {"0": "bearish", "1": "bullish"}.')
    if shape in (None, "", "auto"):
        shape = "text_label" if label_names else "prompt_completion"
    if shape == "messages":
        return DataSpec(shape="messages", messages_column=prompt_col or "messages")
    return DataSpec(shape=shape, prompt_column=prompt_col, completion_column=completion_col,
                    label_names=label_names, prompt_template=template.strip() or None)


def inspect_file(path: str | None, plan: TrainPlan, spec=None):
    """(preview rows, columns, report) for the UI; raises TrainerError with the fix."""
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


# ------------------------------------------------------------------------------------------ progress
def progress_html(run, progress) -> str:
    if run is None:
        return "<div id='train-progress-text'>No run selected.</div>"
    pct = int(round(progress.fraction * 100)) if run.status != "completed" else 100
    color = {"failed": "#C44E52", "stopped": "#DD8452", "completed": "#55A868"}.get(run.status, "#4C72B0")
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
    from trainer import registry
    from trainer.events import read_progress

    rows = []
    for run in registry.list_runs():
        p = read_progress(run.run_dir)
        rows.append([run.id, run.name, run.status, f"{p.step}/{p.total_steps}" if p.total_steps else "-",
                     round(p.loss[-1][1], 4) if p.loss else None, round(p.eval_loss[-1][1], 4) if p.eval_loss else None,
                     run.task, run.created_at])
    return rows


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
    if run is not None and run.status == "failed":
        log = (run.error or "") + "\n\n--- end of log.txt ---\n" + registry.log_tail(run.run_dir, 25)
    key = (run.id, run.status, progress.phase, progress.step, len(progress.loss), len(progress.eval_loss), progress.message) if run else None
    return run, progress, log, key


# ------------------------------------------------------------------------------------------ layout
def build(shared, plan_state: gr.State) -> TrainTab:
    gr.Markdown("### Fine-tune a LoRA adapter\nUpload input→output pairs (CSV, JSON, JSONL or Parquet), check the report, "
                "adjust the plan, and start. Training runs in the background — you can reload the page or close it.")
    file_state = gr.State(None)  # path of the kept upload
    selected = gr.State(None)  # run id the progress panel follows
    last_key = gr.State(None)

    with gr.Row():
        with gr.Column(scale=1):
            upload = gr.File(label="Training data", file_types=[".csv", ".json", ".jsonl", ".parquet"], type="filepath", elem_id="train-upload")
            with gr.Accordion("Column mapping", open=False, elem_id="train-mapping"):
                shape = gr.Dropdown(SHAPE_CHOICES, value="auto", label="shape", elem_id="train-shape")
                prompt_col = gr.Dropdown([], label="prompt / text column", allow_custom_value=True, elem_id="train-prompt-column")
                completion_col = gr.Dropdown([], label="answer / label column", allow_custom_value=True, elem_id="train-completion-column")
                label_map = gr.Textbox(label="label map (JSON, for numeric labels)", placeholder='{"0": "bearish", "1": "bullish", "2": "neutral"}', elem_id="train-label-map")
                template = gr.Textbox(label="prompt template (optional, with {text})", placeholder="Sentiment of this tweet: {text}", elem_id="train-prompt-template")
                recheck = gr.Button("Re-check with this mapping", size="sm", elem_id="train-recheck")
        with gr.Column(scale=2):
            report_md = gr.Markdown("Upload a file to see its validation report.", elem_id="train-report")
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
        pf = plan_fields()
        for start in range(0, len(pf), 4):
            with gr.Row():
                for f in pf[start:start + 4]:
                    controls.append(_control(f, getattr(default_plan, f.name), None))
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
    runs = gr.Dataframe(headers=RUN_HEADERS, label="Runs", interactive=False, max_height=240, elem_id="train-runs")
    timer = gr.Timer(1.0)

    # ---- handlers -----------------------------------------------------------------------------
    def current_plan(*values):
        *plan_vals, reasons = values
        return plan_from_values(list(plan_vals), reasons)

    def show_report(path, plan, spec):
        if not path:
            return (None, "Upload a file to see its validation report.", None, [], None, gr.update(), gr.update())
        kept, loaded, report = inspect_file(path, plan, spec)
        head = ("✅ " if report.ok else "❌ ") + report.summary()
        cols = loaded.columns
        return (str(kept), head, _preview_frame(loaded), report.issue_rows(), report.histogram_figure(),
                gr.update(choices=cols, value=loaded.spec.prompt_column or loaded.spec.messages_column),
                gr.update(choices=cols, value=loaded.spec.completion_column))

    @user_errors
    def on_upload(path, *values):
        if not path:
            return show_report(None, None, None)
        from trainer.errors import TrainerError

        plan = current_plan(*values)
        try:
            return show_report(path, plan, None)
        except TrainerError as exc:  # a bad file: show why, keep the page usable
            return (None, f"❌ {exc}", None, [], None, gr.update(choices=[]), gr.update(choices=[]))

    @user_errors
    def on_recheck(path, shape_v, p_col, c_col, lmap, tmpl, *values):
        if not path:
            raise gr.Error("Upload a file first.")
        spec = _spec_from_controls(shape_v, p_col, c_col, lmap or "", tmpl or "")
        return show_report(path, current_plan(*values), spec)

    report_outputs = [file_state, report_md, preview, issues, histogram, prompt_col, completion_col]
    upload.upload(on_upload, [upload, *controls, reasons_state], report_outputs)
    upload.clear(lambda: show_report(None, None, None), None, report_outputs)
    recheck.click(on_recheck, [file_state, shape, prompt_col, completion_col, label_map, template, *controls, reasons_state], report_outputs)

    def on_plan_state(plan_dict):
        if not plan_dict:
            return [gr.update()] * (len(controls) + 3)
        plan = TrainPlan.from_dict(plan_dict)
        reasons = plan.reasons or {}
        updates = []
        for f, value in zip(plan_fields(), plan_values(plan)):
            reason = reasons.get(f.name)
            updates.append(gr.update(value=value, info=f.metadata.get("help", "") + (f" — advisor: {reason}" if reason else "")))
        return [*updates, reasons, "**Plan from the Advisor** (edit any field before starting).", quantization_note(plan)]

    plan_state.change(on_plan_state, plan_state, [*controls, reasons_state, plan_source, quant_md])

    def on_quant_change(*values):
        try:
            return quantization_note(current_plan(*values))
        except Exception:  # noqa: BLE001 - half-edited plan: leave the note as is
            return gr.update()

    for f, control in zip(plan_fields(), controls):
        if f.name == "quantization":
            control.change(on_quant_change, [*controls, reasons_state], quant_md)

    @user_errors
    def on_start(path, name, shape_v, p_col, c_col, lmap, tmpl, *values):
        if not path:
            raise gr.Error("Upload a training file first.")
        plan = current_plan(*values)
        spec = _spec_from_controls(shape_v, p_col, c_col, lmap or "", tmpl or "")
        run = shared.jobs().start(path, plan, spec, name=(name or "").strip() or None)
        note = "started" if run.status == RunStatus.RUNNING else f"queued behind {shared.jobs().active().name}" if shared.jobs().active() else run.status
        gr.Info(f"Run {run.name}: {note}.")
        return run.id, gr.update(choices=run_choices(), value=run.id), runs_table(), None

    start.click(on_start, [file_state, run_name, shape, prompt_col, completion_col, label_map, template, *controls, reasons_state],
                [selected, run_select, runs, last_key])

    @user_errors
    def on_stop(run_id):
        if not run_id:
            raise gr.Error("Select a run to stop.")
        run = shared.jobs().stop(run_id)
        gr.Info(f"Run {run.name}: {run.status} — it saves a checkpoint at the next step." if run.status == "stopping" else f"Run {run.name}: {run.status}.")
        return runs_table(), None

    @user_errors
    def on_resume(run_id):
        if not run_id:
            raise gr.Error("Select a stopped or failed run to resume.")
        run = shared.jobs().resume(run_id)
        gr.Info(f"Run {run.name}: {run.status}.")
        return runs_table(), None

    stop.click(on_stop, selected, [runs, last_key])
    resume.click(on_resume, selected, [runs, last_key])

    def on_select(run_id):
        return run_id, None

    run_select.change(on_select, run_select, [selected, last_key])

    def on_refresh(run_id):
        return gr.update(choices=run_choices(), value=run_id), runs_table()

    refresh.click(on_refresh, selected, [run_select, runs])

    def on_tick(run_id, key):
        run, prog, log, new_key = snapshot(run_id)
        if new_key == key and key is not None:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip(), key
        table = runs_table()
        if run is None:
            return progress_html(None, None), loss_frame(_empty_progress()), gr.update(visible=False), table, new_key
        return (progress_html(run, prog), loss_frame(prog), gr.update(value=log, visible=bool(log)), table, new_key)

    timer.tick(on_tick, [selected, last_key], [progress, loss_plot, log_box, runs, last_key], show_progress="hidden")

    def on_load(run_id):
        """Page (re)load: follow the active run, else the newest one."""
        from trainer import registry

        if not run_id:
            active = [r for r in registry.list_runs() if r.status in (*LIVE, RunStatus.QUEUED)]
            newest = registry.list_runs()
            run_id = (active or newest or [None])[0]
            run_id = run_id.id if run_id else None
        return run_id, gr.update(choices=run_choices(), value=run_id), runs_table()

    from gradio.context import Context

    root = Context.root_block
    if root is not None:  # inside gr.Blocks: follow the active run whenever a page (re)loads
        root.load(on_load, [selected], [selected, run_select, runs])
    return TrainTab(upload=upload, start=start, stop=stop, resume=resume, runs=runs, run_select=run_select, timer=timer)


def _empty_progress():
    from trainer.events import Progress

    return Progress()
