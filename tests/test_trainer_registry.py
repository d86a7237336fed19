"""Run registry, events, plan -> SFTConfig, accelerate launch config and the CLI wiring (fast, no training)."""

from __future__ import annotations

import json
import os

import pytest

from trainer import registry
from trainer.errors import TrainerError
from trainer.events import EventWriter, fold, read_events, read_progress
from trainer.plan import TrainPlan


def test_create_list_get_update(tmp_home):
    a = registry.create_run({"name": "first run", "base_model": "m", "task": "classification", "labels": ["x", "y"]})
    b = registry.create_run({"name": "second", "base_model": "m"})
    runs = registry.list_runs()
    assert {r.id for r in runs} == {a.name, b.name}
    info = registry.get_run(a.name)
    assert info.status == "preparing" and info.task == "classification" and info.labels == ["x", "y"]
    assert info.adapter_dir is None and info.run_dir == a and info.created_at
    registry.update_record(a, status="running", pid=123)
    assert registry.get_run(a.name).status == "running"
    assert [r.id for r in registry.list_runs(status="running")] == [a.name]
    with pytest.raises(TrainerError, match="Unknown run status"):
        registry.update_record(a, status="weird")
    (a / "adapter").mkdir()
    (a / "adapter" / "adapter_config.json").write_text("{}")
    assert registry.get_run(a.name).adapter_dir == a / "adapter"
    assert registry.find_run("first run").id == a.name
    with pytest.raises(TrainerError, match="fintune runs"):
        registry.get_run("does-not-exist")
    with pytest.raises(TrainerError, match="not a valid run id"):
        registry.run_dir("../etc")


def test_corrupt_run_json_is_skipped_in_listing(tmp_home):
    folder = registry.create_run({"name": "ok"})
    bad = registry.runs_root() / "broken"
    bad.mkdir()
    (bad / "run.json").write_text("{not json")
    assert [r.id for r in registry.list_runs()] == [folder.name]


def test_last_checkpoint_ignores_incomplete(tmp_home):
    folder = registry.create_run({"name": "c"})
    for step, complete in ((5, True), (10, True), (15, False)):
        ckpt = folder / "checkpoints" / f"checkpoint-{step}"
        ckpt.mkdir()
        if complete:
            (ckpt / "trainer_state.json").write_text("{}")
    assert registry.last_checkpoint(folder).name == "checkpoint-10"


def test_events_incremental_read_and_torn_line(tmp_path):
    writer = EventWriter(tmp_path)
    writer.phase("training", total_steps=4)
    writer.emit("log", step=1, loss=3.0, total_steps=4)
    events, offset = read_events(tmp_path)
    assert [e["kind"] for e in events] == ["phase", "log"]
    with open(tmp_path / "events.jsonl", "a") as handle:
        handle.write('{"kind": "log", "step": 2')  # a writer killed mid-line
    more, offset2 = read_events(tmp_path, offset)
    assert more == [] and offset2 == offset
    with open(tmp_path / "events.jsonl", "a") as handle:
        handle.write(', "loss": 2.0}\n')
    more, _ = read_events(tmp_path, offset)
    assert more[0]["step"] == 2
    progress = read_progress(tmp_path)
    assert progress.loss == [(1, 3.0), (2, 2.0)] and progress.total_steps == 4 and progress.fraction == 0.5


def test_progress_after_resume_drops_replayed_points():
    events = [{"kind": "log", "step": s, "loss": 1.0 / s} for s in range(1, 7)]
    events += [{"kind": "phase", "phase": "training", "resumed_from_step": 4}, {"kind": "log", "step": 5, "loss": 0.1}]
    progress = fold(events)
    assert [s for s, _ in progress.loss] == [1, 2, 3, 4, 5] and progress.resumed_from_step == 4


def test_plan_maps_every_field_to_sft_config(tmp_path):
    plan = TrainPlan(optimizer="adafactor", learning_rate=1e-4, lr_scheduler="linear", warmup_ratio=0.1, num_epochs=2,
                     per_device_batch_size=2, gradient_accumulation_steps=4, gradient_checkpointing=True,
                     label_smoothing=0.1, neftune_noise_alpha=5.0, max_seq_length=256, compute_dtype="float32")
    from trainer.train import build_sft_config

    cfg = build_sft_config(plan, tmp_path, True, "float32")
    assert cfg.optim == "adafactor" and cfg.learning_rate == 1e-4 and cfg.lr_scheduler_type == "linear"
    assert cfg.warmup_steps == 0.1 and cfg.num_train_epochs == 2 and cfg.per_device_train_batch_size == 2
    assert cfg.gradient_accumulation_steps == 4 and cfg.gradient_checkpointing is True
    assert cfg.label_smoothing_factor == 0.1 and cfg.neftune_noise_alpha == 5.0 and cfg.max_length == 256
    assert cfg.completion_only_loss is True and cfg.eval_strategy == "steps" and cfg.bf16 is False
    lora = plan.to_lora_config()
    assert lora.r == plan.lora_r and lora.lora_alpha == plan.lora_alpha and lora.lora_dropout == plan.lora_dropout


def test_nf4_plan_builds_a_4bit_config():
    bnb = TrainPlan(quantization="nf4").to_bnb_config()
    assert bnb.load_in_4bit and bnb.bnb_4bit_quant_type == "nf4"
    assert TrainPlan().to_bnb_config() is None


def test_accelerate_config_and_command(tmp_path):
    from trainer.accelerate_launch import LaunchSpec, build_command, config_yaml, write_config

    spec = LaunchSpec(num_processes=4, mixed_precision="bf16")
    text = config_yaml(spec)
    assert "distributed_type: MULTI_GPU" in text and "num_processes: 4" in text and "mixed_precision: bf16" in text
    import yaml

    assert yaml.safe_load(text)["num_processes"] == 4
    path = write_config(tmp_path, spec)
    cmd = build_command(tmp_path, python="/py")
    assert cmd[:4] == ["/py", "-m", "accelerate.commands.launch", "--config_file"]
    assert cmd[4] == str(path) and cmd[-3:] == ["-m", "trainer.job", str(tmp_path)]
    own = tmp_path / "ds.yaml"
    own.write_text("distributed_type: DEEPSPEED\nnum_processes: 8\n")
    other = tmp_path / "run2"
    other.mkdir()
    write_config(other, LaunchSpec(config_file=str(own)))
    assert "DEEPSPEED" in (other / "accelerate_config.yaml").read_text()
    with pytest.raises(TrainerError, match="at least 1"):
        LaunchSpec(num_processes=0)


def test_manager_uses_accelerate_for_accelerate_runs(tmp_home):
    from trainer.accelerate_launch import LaunchSpec, write_config
    from trainer.manager import JobManager

    folder = registry.create_run({"name": "ddp", "launcher": "accelerate", "status": "stopped"})
    write_config(folder, LaunchSpec(num_processes=2))
    cmd = JobManager(python="/py").command_for(registry.get_run(folder.name))
    assert "accelerate.commands.launch" in cmd and cmd[-1] == str(folder)


def test_cli_registers_train_runs_export(tmp_home, capsys):
    from fintune.cli import build_parser, main

    parser = build_parser()
    args = parser.parse_args(["train", "data.csv", "--plan", "p.json", "--base-model", "m", "--run-name", "n",
                              "--launcher", "accelerate", "--num-processes", "2"])
    assert args.func.__name__ == "cmd_train" and args.launcher == "accelerate"
    assert parser.parse_args(["export", "r", "--out", "o", "--merge"]).merge is True
    assert main(["runs"]) == 0
    assert "No runs yet" in capsys.readouterr().out
    assert main(["train", str(tmp_home / "missing.csv")]) == 1
    assert "File not found" in capsys.readouterr().err


def test_cli_set_overrides_plan_fields():
    import argparse

    from trainer.cli import build_plan

    plan = build_plan(argparse.Namespace(plan=None, base_model="x", set=["max_steps=7", "lora_target_modules=[\"q_proj\"]"]))
    assert plan.max_steps == 7 and plan.lora_target_modules == ["q_proj"] and plan.base_model == "x"
    with pytest.raises(TrainerError, match="FIELD=VALUE"):
        build_plan(argparse.Namespace(plan=None, base_model=None, set=["oops"]))


def test_dead_job_is_marked_failed_with_log_tail(tmp_home):
    from trainer.manager import JobManager

    folder = registry.create_run({"name": "ghost"})
    registry.update_record(folder, status="running", pid=999_999_999, pid_create_time=1.0)
    (folder / "log.txt").write_text("step 1\nKilled\n")
    EventWriter(folder).emit("log", step=3, total_steps=10, loss=1.0)
    JobManager()
    run = registry.get_run(folder.name)
    assert run.status == "failed" and "ended unexpectedly at step 3" in run.error
    assert "Killed" in run.record["log_tail"]
    assert read_progress(folder).phase == "failed"


def test_statuses_are_the_enum_and_an_unknown_one_is_named(tmp_home):
    folder = registry.create_run({"name": "typed", "base_model": "x"})
    run = registry.get_run(folder.name)
    assert run.status is registry.RunStatus.PREPARING
    record = json.loads((folder / registry.RUN_FILE).read_text())
    (folder / registry.RUN_FILE).write_text(json.dumps({**record, "status": "finished"}))
    with pytest.raises(TrainerError, match="unknown status 'finished'.*Fix or delete run.json"):
        registry.get_run(folder.name)
    assert registry.list_runs() == []  # unreadable records are skipped, as before
