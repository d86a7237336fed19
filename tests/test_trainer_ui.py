"""Train tab: layout with stable elem_ids, plan <-> typed controls round trip, progress snapshot from events."""

from __future__ import annotations

import gradio as gr
import pytest

from trainer import registry
from trainer.events import EventWriter
from trainer.plan import TrainPlan
from ui import train_tab


class FakeShared:
    def jobs(self):  # not called while building
        raise AssertionError


def test_tab_builds_with_stable_elem_ids(tmp_home):
    with gr.Blocks() as demo:
        plan_state = gr.State(None)
        with gr.Tab("Train"):
            tab = train_tab.build(FakeShared(), plan_state)
    ids = {c.get("props", {}).get("elem_id") for c in demo.config["components"]}
    for elem_id in ("train-upload", "train-report", "train-preview", "train-issues", "train-histogram", "train-start",
                    "train-stop", "train-resume", "train-progress", "train-loss-plot", "train-runs", "train-run-select",
                    "train-plan-learning-rate", "train-plan-optimizer", "train-plan-quantization", "train-log"):
        assert elem_id in ids, elem_id
    assert isinstance(tab.timer, gr.Timer)
    # typed controls: numbers as numbers, choices as dropdowns
    by_id = {c["props"].get("elem_id"): c for c in demo.config["components"]}
    assert by_id["train-plan-learning-rate"]["type"] == "number"
    assert by_id["train-plan-optimizer"]["type"] == "dropdown"
    assert by_id["train-plan-gradient-checkpointing"]["type"] == "checkbox"


def test_plan_round_trips_through_controls():
    plan = TrainPlan(learning_rate=1e-4, lora_target_modules=["q_proj", "v_proj"], neftune_noise_alpha=5.0,
                     quantization="nf4", per_device_batch_size=4, gradient_checkpointing=True)
    values = train_tab.plan_values(plan)
    # Gradio numbers come back as floats
    values = [float(v) if isinstance(v, int) and not isinstance(v, bool) else v for v in values]
    again = train_tab.plan_from_values(values, {"learning_rate": "why"})
    assert again.lora_target_modules == ["q_proj", "v_proj"] and again.neftune_noise_alpha == 5.0
    assert again.per_device_batch_size == 4 and isinstance(again.per_device_batch_size, int)
    assert again.reasons == {"learning_rate": "why"}
    assert {k: v for k, v in again.to_dict().items() if k != "reasons"} == {k: v for k, v in plan.to_dict().items() if k != "reasons"}
    off = train_tab.plan_values(TrainPlan())
    assert train_tab.plan_from_values(off).neftune_noise_alpha is None


def test_quantization_note_says_why_4bit_is_off():
    assert "4-bit is off" in train_tab.quantization_note(TrainPlan(quantization="none"))
    assert "NF4" in train_tab.quantization_note(TrainPlan(quantization="nf4"))


def test_snapshot_and_progress_from_events(tmp_home):
    folder = registry.create_run({"name": "ui-run", "base_model": "x"})
    writer = EventWriter(folder)
    writer.phase("training", total_steps=10)
    writer.emit("log", step=3, total_steps=10, loss=2.5, eta_s=70)
    writer.emit("eval", step=3, eval_loss=2.7)
    registry.update_record(folder, status="running")
    run, progress, log, key = train_tab.snapshot(folder.name)
    assert run.status == "running" and progress.step == 3 and log == ""
    html = train_tab.progress_html(run, progress)
    assert "step 3/10" in html and "ETA 1m10s" in html and "width:30%" in html
    frame = train_tab.loss_frame(progress)
    assert set(frame["series"]) == {"train loss", "eval loss"}
    registry.update_record(folder, status="failed", error="boom: do X")
    (folder / "log.txt").write_text("line 1\nTraceback: the end\n")
    run, progress, log, key2 = train_tab.snapshot(folder.name)
    assert "boom: do X" in log and "the end" in log and key2 != key
    assert train_tab.runs_table()[0][:3] == [folder.name, "ui-run", "failed"]


def test_bad_label_map_is_a_clear_error():
    from trainer.errors import TrainerError

    with pytest.raises(TrainerError, match="not valid JSON"):
        train_tab.spec_from_controls(None, "text_label", "text", "label", "{0: bearish}", "")
    spec = train_tab.spec_from_controls(None, "auto", "text", "label", '{"0": "bearish", "1": "bullish"}', "")
    assert spec.shape == "text_label" and spec.label_names == {"0": "bearish", "1": "bullish"}
    assert train_tab.spec_from_controls(None, "auto", None, None, "", "") is None


def test_tab_events_do_not_take_the_public_endpoint_names():
    """/train and /runs belong to ui/api.py (typed, for API clients); the tab's own events have other names."""
    with gr.Blocks() as demo:
        train_tab.build(FakeShared(), gr.State(None), gr.State(None))
    names = {d.get("api_name") for d in demo.config["dependencies"]}
    assert {"train_tab_start", "train_tab_refresh", "stop_run", "resume_run"} <= names
    assert not names & {"train", "runs"}


def test_mapping_controls_prefilled_with_detection_mean_detect(tmp_path):
    """The tab pre-fills the column dropdowns with what detection found: that alone keeps detection (and its known
    label map); a changed column is honoured."""
    columns = ["text", "label", "note"]
    assert train_tab.spec_from_controls(columns, "auto", "text", "label", "", "") is None
    chosen = train_tab.spec_from_controls(columns, "auto", "note", "label", "", "")
    assert (chosen.shape, chosen.prompt_column, chosen.completion_column) == ("text_label", "note", "label")
    messages = train_tab.spec_from_controls(["conversation"], "messages", None, None, "", "")
    assert messages.messages_column == "conversation"


def test_advisor_upload_arrives_with_the_plan(tmp_home, tmp_path, monkeypatch):
    """The Advisor hands its upload and plan over; the Train tab shows that file's report without a second upload."""
    from trainer import prepare

    monkeypatch.setattr(prepare, "load_tokenizer_for", lambda base_model: None)  # no model: skip token lengths
    path = tmp_path / "tweets.tsv"
    path.write_text("text\tlabel\n" + "".join(f"tweet number {i}\t{i % 3}\n" for i in range(40)), encoding="utf-8")
    plan = TrainPlan(max_seq_length=128).to_dict()
    file_update, kept, columns, report, preview, issues, histogram, p_col, c_col = train_tab.on_handover(str(path), plan)
    assert file_update["value"] == str(path) and kept and columns == ["text", "label"]
    assert report.startswith("✅") and "40 usable" in report and "bearish" in report
    assert (p_col["value"], c_col["value"]) == ("text", "label")
    assert all(u == {"__type__": "update"} for u in train_tab.on_handover(None, plan))


def test_runs_table_and_cli_share_one_summary(tmp_home, capsys):
    from fintune.cli import main

    folder = registry.create_run({"name": "listed", "base_model": "x"})
    EventWriter(folder).emit("log", step=2, total_steps=4, loss=1.23456)
    registry.update_record(folder, status="stopped")
    row = train_tab.runs_table()[0]
    assert row[:5] == [folder.name, "listed", "stopped", "2/4", 1.2346]
    assert main(["runs"]) == 0
    line = next(ln for ln in capsys.readouterr().out.splitlines() if ln.startswith(folder.name))
    assert line.split()[1:4] == ["stopped", "2/4", "1.2346"]


def test_cli_flags_and_tab_controls_build_the_same_mapping(tmp_path):
    """`fintune train --prompt-column/--label-map` and the Train tab's mapping go through one function."""
    import argparse

    from trainer.cli import spec_from_args

    path = tmp_path / "notes.csv"
    path.write_text("text,label,note\n" + "".join(f"t{i},{i % 2},n{i}\n" for i in range(12)), encoding="utf-8")
    args = argparse.Namespace(prompt_column="note", completion_column=None, label_map='{"0": "down", "1": "up"}',
                              max_file_mb=None, max_rows=None)
    from_cli = spec_from_args(args, str(path))
    from_tab = train_tab.spec_from_controls(["text", "label", "note"], "auto", "note", "label", '{"0": "down", "1": "up"}', "")
    assert from_cli == from_tab
    assert (from_cli.shape, from_cli.prompt_column, from_cli.completion_column, from_cli.label_names) == (
        "text_label", "note", "label", {"0": "down", "1": "up"})
