"""JobManager: one training job at a time, a queue, stop, resume — all state on disk, so it survives restarts.

The queue is simply the runs whose status is ``queued`` (oldest ``queued_at`` first). ``pump()`` —
called by a background thread, by ``wait()`` and after every command — first marks runs whose
process died (SIGKILL, OOM killer, power loss) as failed with the end of their log, then starts the
next queued run if none is running. A process-wide file lock makes ``pump()`` safe when the app and
the CLI run side by side. Jobs run as ``python -m trainer.job RUN_DIR`` in their own session, so
they keep training across an app restart; the restarted app finds them by pid.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from filelock import FileLock

from trainer import registry
from trainer.errors import TrainerError
from trainer.events import EventWriter, read_progress
from trainer.registry import LIVE, TERMINAL, RunInfo, RunStatus


def pid_alive(pid: int | None, create_time: float | None = None) -> bool:
    """Whether ``pid`` is a live (non-zombie) process, and the same one that was started (not a reused pid)."""
    if not pid:
        return False
    import psutil

    try:
        proc = psutil.Process(int(pid))
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        if create_time is not None and abs(proc.create_time() - float(create_time)) > 2.0:
            return False
        return True
    except (psutil.NoSuchProcess, psutil.AccessDenied, ValueError):
        return False


class JobManager:
    """Start/stop/resume/queue training runs. Use ``JobManager.shared()`` in the app (one per process)."""

    _shared: "JobManager | None" = None
    _shared_lock = threading.Lock()

    def __init__(self, poll_interval: float = 1.0, background: bool = False, python: str | None = None,
                 job_args: tuple[str, ...] = ()):
        self.poll_interval = poll_interval
        self.python = python or sys.executable
        self.job_args = tuple(job_args)
        self._children: dict[str, subprocess.Popen] = {}
        self._lock = threading.RLock()
        self._thread: threading.Thread | None = None
        self._closing = threading.Event()
        self.pump()  # recover after a restart: dead jobs -> failed, queued jobs -> started
        if background:
            self.start_background()

    @classmethod
    def shared(cls) -> "JobManager":
        """The process-wide manager, with its background thread running."""
        with cls._shared_lock:
            if cls._shared is None:
                cls._shared = cls(background=True)
            return cls._shared

    # ------------------------------------------------------------------------------ background loop
    def start_background(self) -> None:
        if self._thread and self._thread.is_alive():
            return
        self._closing.clear()
        self._thread = threading.Thread(target=self._loop, name="fintune-jobs", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._closing.wait(self.poll_interval):
            try:
                self.pump()
            except Exception as exc:  # noqa: BLE001 - the loop must survive a bad run folder
                print(f"fintune job manager: {exc}", file=sys.stderr)

    def close(self) -> None:
        self._closing.set()
        if self._thread:
            self._thread.join(timeout=5)

    # ------------------------------------------------------------------------------ the pump
    @contextmanager
    def _global_lock(self) -> Iterator[None]:
        with self._lock, FileLock(registry.runs_root() / ".manager.lock"):
            yield

    def _reap(self) -> None:
        for run_id, proc in list(self._children.items()):
            if proc.poll() is not None:
                del self._children[run_id]

    def _is_running(self, run: RunInfo) -> bool:
        rec = run.record or {}
        return pid_alive(rec.get("pid"), rec.get("pid_create_time"))

    def _mark_dead(self, run: RunInfo) -> None:
        progress = read_progress(run.run_dir)
        ckpt = registry.last_checkpoint(run.run_dir)
        where = f" at step {progress.step}" if progress.step else ""
        fix = (f"Resume to continue from the checkpoint at step {ckpt.name.split('-')[-1]}." if ckpt
               else "No checkpoint was saved yet; Resume starts it again from step 0.")
        tail = registry.log_tail(run.run_dir, 15)
        message = f"The training process ended unexpectedly{where} (killed, out of memory, or the machine restarted). {fix}"
        writer = EventWriter(run.run_dir)
        writer.error(message, traceback=tail or None)
        writer.phase("failed", message=message)
        registry.update_record(run.run_dir, status=RunStatus.FAILED, error=message, log_tail=tail, resume=False, pid=None)

    def pump(self) -> RunInfo | None:
        """Recover dead jobs and start the next queued one if none is running; returns the run started."""
        with self._global_lock():
            self._reap()
            busy = False
            for run in registry.list_runs(status=LIVE):
                if self._is_running(run):
                    busy = True
                else:
                    # a job that finished between our reads has already written its final status
                    fresh = registry.get_run(run.id)
                    if fresh.status in LIVE and not self._is_running(fresh):
                        self._mark_dead(fresh)
            if busy:
                return None
            for run in self.queue():
                started = self._launch_if_queued(run.id)
                if started is not None:
                    return started
            return None

    def command_for(self, run: RunInfo) -> list[str]:
        rec = run.record or {}
        if rec.get("launcher") == "accelerate":
            from trainer.accelerate_launch import build_command

            return build_command(run.run_dir, python=self.python)
        return [self.python, "-m", "trainer.job", str(run.run_dir), *self.job_args, *rec.get("job_args", [])]

    def _launch_if_queued(self, run_id: str) -> RunInfo | None:
        """Compare-and-set under the manager lock: start the run only if its record still says ``queued`` and no
        process of it is alive, so no path (CLI, app, resume, restart) can launch one run twice."""
        fresh = registry.get_run(run_id)
        if fresh.status != RunStatus.QUEUED or self._is_running(fresh):
            return None
        return self._launch(fresh)

    def _launch(self, run: RunInfo) -> RunInfo:
        import psutil

        cmd = self.command_for(run)
        (run.run_dir / registry.STOP_FILE).unlink(missing_ok=True)
        log = open(run.run_dir / "log.txt", "ab")
        log.write(f"\n==== {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(cmd)}\n".encode())
        log.flush()
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "TOKENIZERS_PARALLELISM": "false"}
        try:
            proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    start_new_session=True, env=env, cwd=str(Path(__file__).resolve().parents[1]))
        except OSError as exc:
            message = f"Could not start the training process ({exc}). Check that Python and the trainer package are installed."
            registry.update_record(run.run_dir, status=RunStatus.FAILED, error=message)
            raise TrainerError(message) from exc
        finally:
            log.close()
        self._children[run.id] = proc
        try:
            created = psutil.Process(proc.pid).create_time()
        except psutil.NoSuchProcess:
            created = None
        registry.update_record(run.run_dir, status=RunStatus.RUNNING.value, pid=proc.pid, pid_create_time=created, error=None)
        return registry.get_run(run.id)

    # ------------------------------------------------------------------------------ commands
    def submit(self, run_dir: str | Path) -> RunInfo:
        """Queue a prepared run folder (from ``trainer.prepare.prepare_run``) and start it if the slot is free.

        Only a ``preparing`` run moves to ``queued``; submitting a run that is already queued or running is a no-op."""
        folder = Path(run_dir)
        with self._global_lock():
            run = registry.get_run(folder.name)
            if run.status == RunStatus.PREPARING:
                registry.update_record(folder, status=RunStatus.QUEUED.value, queued_at=time.time())
        self.pump()
        return registry.get_run(folder.name)

    def start(self, data_path: str | Path, plan, spec=None, name: str | None = None, **kwargs) -> RunInfo:
        """Validate + prepare a run from an upload and queue it."""
        from trainer.prepare import prepare_run

        return self.submit(prepare_run(data_path, plan, spec, name, **kwargs))

    def stop(self, run_id: str) -> RunInfo:
        """Ask a run to stop: a queued run leaves the queue; a running one checkpoints at its next step and stops."""
        with self._global_lock():
            run = registry.get_run(run_id)
            if run.status == RunStatus.QUEUED:
                EventWriter(run.run_dir).phase("stopped", message="removed from the queue before it started")
                registry.update_record(run.run_dir, status=RunStatus.STOPPED.value, resume=False)
            elif run.status in LIVE:
                (run.run_dir / registry.STOP_FILE).write_text(time.strftime("%Y-%m-%dT%H:%M:%S"), encoding="utf-8")
                registry.update_record(run.run_dir, status=RunStatus.STOPPING.value)
                EventWriter(run.run_dir).phase("training", message="stop requested: stopping at the next step with a checkpoint")
            else:
                raise TrainerError(f"Run {run.name} is already {run.status}; nothing to stop.")
        return registry.get_run(run_id)

    def resume(self, run_id: str) -> RunInfo:
        """Queue a stopped or failed run again; it continues from its newest checkpoint (or restarts without one)."""
        with self._global_lock():
            run = registry.get_run(run_id)
            if run.status not in (RunStatus.STOPPED, RunStatus.FAILED):
                raise TrainerError(f"Run {run.name} is {run.status}; only stopped or failed runs can be resumed.")
            (run.run_dir / registry.STOP_FILE).unlink(missing_ok=True)
            ckpt = registry.last_checkpoint(run.run_dir)
            EventWriter(run.run_dir).phase("queued", message=f"resume queued from {ckpt.name}" if ckpt else "restart queued (no checkpoint)")
            registry.update_record(run.run_dir, status=RunStatus.QUEUED.value, resume=True, queued_at=time.time(), error=None)
        self.pump()
        return registry.get_run(run_id)

    def active(self) -> RunInfo | None:
        runs = registry.list_runs(status=LIVE)
        return runs[0] if runs else None

    def queue(self) -> list[RunInfo]:
        return sorted(registry.list_runs(status=RunStatus.QUEUED), key=lambda r: float((r.record or {}).get("queued_at", 0)))

    def wait(self, run_id: str, timeout: float = 600.0, until: tuple[str, ...] = TERMINAL) -> RunInfo:
        """Block until the run reaches one of ``until`` (pumping the queue meanwhile)."""
        deadline = time.time() + timeout
        while True:
            self.pump()
            run = registry.get_run(run_id)
            if run.status in until:
                return run
            if time.time() > deadline:
                raise TrainerError(f"Run {run.name} is still {run.status} after {timeout:.0f} s.")
            time.sleep(min(self.poll_interval, 0.5))
