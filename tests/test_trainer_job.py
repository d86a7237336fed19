"""Training jobs end to end on a tiny random model: events, adapter, stop/resume, SIGKILL recovery, queue.

Real subprocesses, a 2-layer model and a few steps, so the whole file runs in about a minute.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import time
from pathlib import Path

import pytest

from trainer import registry
from trainer.events import read_events, read_progress
from trainer.manager import JobManager
from trainer.plan import TrainPlan
from trainer.prepare import prepare_run
from trainer.testing import STEP_DELAY_ENV

pytestmark = pytest.mark.slow
NO_EVAL = {"evaluate": False}  # skip the task evaluation where a test is about the job machinery


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    from trainer.testing import tiny_model_dir

    return tiny_model_dir(tmp_path_factory.mktemp("tiny"))


@pytest.fixture
def sentiment_csv(tmp_path) -> Path:
    path = tmp_path / "tweets.csv"
    words = "stock shares profit loss rally fell rose market bank rate".split()
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        for i in range(60):
            writer.writerow([" ".join(words[(i * k) % len(words)] for k in range(1, 4 + i % 9)) + f" #{i}", str(i % 3)])
    return path


def plan_for(model: Path, **kw) -> TrainPlan:
    base = dict(base_model=str(model), max_steps=6, per_device_batch_size=4, logging_steps=1, eval_steps=3,
                save_steps=3, max_seq_length=96, lora_r=4, lora_alpha=8)
    base.update(kw)
    return TrainPlan(**base)


def wait_for(predicate, timeout=120.0, interval=0.1):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not met in time")


def test_full_run_writes_layout_events_and_a_loadable_adapter(tmp_home, tiny_model, sentiment_csv):
    manager = JobManager()
    run = manager.start(sentiment_csv, plan_for(tiny_model), name="full")
    run = manager.wait(run.id, timeout=300)
    assert run.status == "completed", registry.log_tail(run.run_dir)
    folder = run.run_dir
    for name in ("run.json", "plan.json", "data/train.jsonl", "data/val.jsonl", "data/split.json", "events.jsonl",
                 "metrics.json", "README.md", "log.txt", "adapter/adapter_config.json", "adapter/adapter_model.safetensors"):
        assert (folder / name).exists(), name
    assert not (folder / "adapter" / "training_args.bin").exists()
    assert registry.last_checkpoint(folder) is not None
    record = registry.read_record(folder)
    assert record["task"] == "classification" and record["labels"] == ["bearish", "bullish", "neutral"]
    assert record["data_fingerprint"] and record["split"]["n_val"] >= 4
    assert (Path(record["data_path"])).is_file()  # the upload is kept
    row = json.loads((folder / "data" / "val.jsonl").read_text().splitlines()[0])
    assert set(row) == {"prompt", "completion"} and row["completion"] in ("bearish", "bullish", "neutral")
    # the card says how to prompt the model as it was trained (a classifier's label instruction as system message)
    assert "the system message `Answer with one of: bearish, bullish, neutral.`" in (folder / "README.md").read_text()
    phases = [e["phase"] for e in read_events(folder)[0] if e["kind"] == "phase"]
    for phase in ("preparing", "tokenizing", "training", "saving", "evaluating", "done"):
        assert phase in phases
    progress = read_progress(folder)
    assert progress.step == 6 and len(progress.loss) >= 6 and progress.eval_loss
    info = registry.list_runs()[0]
    assert info.id == run.id and info.adapter_dir == folder / "adapter" and info.task == "classification"
    # a standard PEFT folder, loadable without FinTune
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model), str(info.adapter_dir))
    assert model.peft_config["default"].r == 4


def test_stop_then_resume_continues_from_the_checkpoint(tmp_home, tiny_model, sentiment_csv, monkeypatch):
    monkeypatch.setenv(STEP_DELAY_ENV, "0.3")
    manager = JobManager()
    run = manager.start(sentiment_csv, plan_for(tiny_model, max_steps=12, save_steps=50), name="stoppable", extra=NO_EVAL)
    wait_for(lambda: read_progress(run.run_dir).step >= 2)
    manager.stop(run.id)
    run = manager.wait(run.id, timeout=120)
    assert run.status == "stopped"
    ckpt = registry.last_checkpoint(run.run_dir)
    assert ckpt is not None, "a stop must save a checkpoint"
    stopped_at = int(ckpt.name.split("-")[1])
    assert 2 <= stopped_at < 12
    assert not (run.run_dir / registry.STOP_FILE).exists()
    monkeypatch.setenv(STEP_DELAY_ENV, "0")
    manager.resume(run.id)
    run = manager.wait(run.id, timeout=300)
    assert run.status == "completed", registry.log_tail(run.run_dir)
    progress = read_progress(run.run_dir)
    assert progress.resumed_from_step == stopped_at and progress.step == 12


def test_sigkill_mid_training_is_detected_and_resumes_after_restart(tmp_home, tiny_model, sentiment_csv, monkeypatch):
    monkeypatch.setenv(STEP_DELAY_ENV, "0.3")
    manager = JobManager()
    run = manager.start(sentiment_csv, plan_for(tiny_model, max_steps=12, save_steps=2), name="killed", extra=NO_EVAL)
    wait_for(lambda: registry.last_checkpoint(run.run_dir))
    pid = registry.read_record(run.run_dir)["pid"]
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not _alive(manager, pid))
    del manager  # "app restart": a new manager recovers from what is on disk
    restarted = JobManager()
    run = registry.get_run(run.id)
    assert run.status == "failed" and "ended unexpectedly" in run.error and "Resume" in run.error
    ckpt_step = int(registry.last_checkpoint(run.run_dir).name.split("-")[1])
    monkeypatch.setenv(STEP_DELAY_ENV, "0")
    restarted.resume(run.id)
    run = restarted.wait(run.id, timeout=300)
    assert run.status == "completed", registry.log_tail(run.run_dir)
    assert read_progress(run.run_dir).resumed_from_step == ckpt_step


def _alive(manager, pid):
    for child in list(manager._children.values()):
        child.poll()
    from trainer.manager import pid_alive

    return pid_alive(pid)


def test_one_job_at_a_time_and_queued_stop(tmp_home, tiny_model, sentiment_csv, monkeypatch):
    monkeypatch.setenv(STEP_DELAY_ENV, "0.2")
    manager = JobManager()
    first = manager.start(sentiment_csv, plan_for(tiny_model, max_steps=4), name="first", extra=NO_EVAL)
    second = manager.start(sentiment_csv, plan_for(tiny_model, max_steps=2), name="second", extra=NO_EVAL)
    third = manager.start(sentiment_csv, plan_for(tiny_model, max_steps=2), name="third", extra=NO_EVAL)
    assert registry.get_run(first.id).status == "running"
    assert registry.get_run(second.id).status == "queued" and registry.get_run(third.id).status == "queued"
    assert [r.id for r in manager.queue()] == [second.id, third.id]
    manager.stop(third.id)
    assert registry.get_run(third.id).status == "stopped"
    assert manager.wait(second.id, timeout=300).status == "completed"
    assert registry.get_run(first.id).status == "completed"
    a = registry.read_record(first.run_dir)
    b = registry.read_record(second.run_dir)
    assert a["finished_at"] <= b["started_at"] + 1.0  # strictly one after the other


def test_failure_shows_a_message_and_the_log(tmp_home, tiny_model, sentiment_csv):
    manager = JobManager()
    folder = prepare_run(sentiment_csv, plan_for(tiny_model), name="broken")
    (folder / "plan.json").write_text(json.dumps({**plan_for(tiny_model).to_dict(), "base_model": str(folder / "nope")}))
    run = manager.wait(manager.submit(folder).id, timeout=120)
    assert run.status == "failed" and run.error
    assert "nope" in run.error
    assert read_progress(folder).phase == "failed"


def test_speedups_do_not_change_the_loss(tmp_path, tiny_model):
    """Padding-free batches + compact LM head give the same losses as plain TRL batching."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from trainer.fast import FinTuneSFTTrainer
    from trainer.train import build_sft_config, to_conversational

    rows = [{"prompt": "word " * (3 + i % 17), "completion": ["bearish", "bullish", "neutral"][i % 3]} for i in range(24)]
    plan = plan_for(tiny_model, compute_dtype="float32", max_steps=4, lora_dropout=0.0, eval_steps=100, save_steps=100)
    losses = {}
    for speedups in (False, True):
        torch.manual_seed(0)
        model = AutoModelForCausalLM.from_pretrained(tiny_model, dtype=torch.float32)
        tok = AutoTokenizer.from_pretrained(tiny_model)
        args = build_sft_config(plan, tmp_path / f"out-{speedups}", False, "float32", save_strategy="no")
        trainer = FinTuneSFTTrainer(model=model, args=args, train_dataset=to_conversational(rows), processing_class=tok,
                                    peft_config=plan.to_lora_config(), speedups=speedups)
        assert trainer.padding_free is speedups
        trainer.train()
        losses[speedups] = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    assert losses[True] == pytest.approx(losses[False], rel=1e-4, abs=1e-5)


def test_nf4_qlora_runs_on_this_machine(tmp_home, tmp_path, sentiment_csv):
    """4-bit NF4 base + k-bit preparation + LoRA trains (bitsandbytes runs on CPU too)."""
    pytest.importorskip("bitsandbytes")
    from trainer.testing import tiny_model_dir
    from trainer.train import run_training

    model = tiny_model_dir(tmp_path / "m64", hidden=64)  # 4-bit blocks need a width of at least 64
    folder = prepare_run(sentiment_csv, plan_for(model, max_steps=2, quantization="nf4", save_steps=2), name="qlora",
                         extra=NO_EVAL)
    assert run_training(folder) == "completed"
    record = registry.read_record(folder)
    assert record["quantization_effective"] == "nf4"
    assert (folder / "adapter" / "adapter_model.safetensors").is_file()
