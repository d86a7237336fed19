"""Exactly one ``trainer.job`` process per run, through the CLI and through the app's job manager.

Each launch appends a ``==== <time> <command>`` line to the run's log.txt, so counting those lines counts the
processes that were ever started for the run, however short-lived.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from trainer import registry
from trainer.manager import JobManager
from trainer.plan import TrainPlan
from trainer.prepare import prepare_run
from trainer.testing import STEP_DELAY_ENV

from tests.test_trainer_job import NO_EVAL, plan_for, sentiment_csv, tiny_model, wait_for  # noqa: F401 - fixtures

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[1]


def launches(run_dir: Path) -> int:
    log = run_dir / "log.txt"
    return sum(1 for line in log.read_text(encoding="utf-8", errors="replace").splitlines() if line.startswith("==== ")) if log.is_file() else 0


def job_pids(run_dir: Path) -> set[int]:
    import psutil

    found = set()
    for proc in psutil.process_iter(["pid", "cmdline"]):
        cmd = proc.info.get("cmdline") or []
        if "trainer.job" in cmd and str(run_dir) in cmd:
            found.add(proc.info["pid"])
    return found


def test_cli_train_detach_starts_exactly_one_job(tmp_home, tiny_model, sentiment_csv):
    plan = plan_for(tiny_model, max_steps=8)
    plan_path = tmp_home.parent / "plan.json"
    plan.save(plan_path)
    env = {**os.environ, "FINTUNE_HOME": str(tmp_home), STEP_DELAY_ENV: "0.3"}
    out = subprocess.run([sys.executable, "-m", "fintune", "train", str(sentiment_csv), "--plan", str(plan_path),
                          "--run-name", "once", "--detach"],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    run = registry.find_run("once")
    seen: set[int] = set()
    deadline = time.time() + 120
    while time.time() < deadline and registry.get_run(run.id).status not in registry.TERMINAL:
        seen |= job_pids(run.run_dir)
        time.sleep(0.05)
    assert registry.get_run(run.id).status == "completed"
    assert len(seen) <= 1 and launches(run.run_dir) == 1


def test_background_pump_never_starts_a_run_that_is_still_being_prepared(tmp_home, tiny_model, sentiment_csv):
    manager = JobManager(poll_interval=0.02, background=True)  # the app's pump, ticking fast
    try:
        folder = prepare_run(sentiment_csv, plan_for(tiny_model, max_steps=4), name="app", extra=NO_EVAL)
        time.sleep(0.5)  # many pump ticks between create and submit (the Train tab's window)
        assert registry.get_run(folder.name).status == registry.RunStatus.PREPARING
        assert launches(folder) == 0
        run = manager.submit(folder)
        manager.submit(folder)  # a second submit (double click, retry) is a no-op
        assert manager.wait(run.id, timeout=300).status == "completed"
        assert launches(folder) == 1
    finally:
        manager.close()


def test_train_tab_start_launches_exactly_one_job(tmp_home, tiny_model, sentiment_csv):
    """Start in the Train tab, through its handler and the app's shared state with the pump ticking fast."""
    from ui import train_tab
    from ui.shared import AppShared

    manager = JobManager(poll_interval=0.02, background=True)
    shared = AppShared(_jobs=manager)
    try:
        plan = plan_for(tiny_model, max_steps=4)
        run_id, *_ = train_tab.on_start(shared, str(sentiment_csv), None, "tab", None, None, None, None, None,
                                        *train_tab.plan_values(plan))
        run_dir = registry.get_run(run_id).run_dir
        seen = set()
        deadline = time.time() + 300
        while registry.get_run(run_id).status not in registry.TERMINAL and time.time() < deadline:
            seen |= job_pids(run_dir)
            time.sleep(0.05)
        assert registry.get_run(run_id).status == "completed"
        assert len(seen) <= 1 and launches(run_dir) == 1
    finally:
        manager.close()


def test_resume_and_restart_launch_once(tmp_home, tiny_model, sentiment_csv, monkeypatch):
    monkeypatch.setenv(STEP_DELAY_ENV, "0.3")
    manager = JobManager()
    run = manager.start(sentiment_csv, plan_for(tiny_model, max_steps=10, save_steps=2), name="resumed", extra=NO_EVAL)
    wait_for(lambda: registry.last_checkpoint(run.run_dir))
    manager.stop(run.id)
    assert manager.wait(run.id, timeout=120).status == "stopped"
    manager.resume(run.id)
    # an app restart while the resumed job runs: a new manager pumps at construction
    JobManager().pump()
    assert manager.wait(run.id, timeout=300).status == "completed"
    assert launches(run.run_dir) == 2  # the first start and the resume, nothing more


def test_run_is_found_by_id_prefix_and_name(tmp_home):
    a = registry.create_run({"name": "q2000"}, run_id="20260101-000000-q2000-aaaa")
    registry.create_run({"name": "other"}, run_id="20260101-000000-q2000-bbbb")
    assert registry.find_run("q2000").id == a.name
    assert registry.find_run("20260101-000000-q2000-a").id == a.name
    with pytest.raises(Exception, match="matches 2 runs"):
        registry.find_run("20260101-000000-q2000")
    from fintune.commands import resolve_adapter

    with pytest.raises(Exception, match="has no adapter yet"):
        resolve_adapter("q2000")
