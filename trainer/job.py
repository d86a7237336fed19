"""Subprocess entry point: ``python -m trainer.job RUN_DIR [--no-speedups]``.

Marks the run running (with this pid), trains, and records the outcome in run.json and events.jsonl.
Any exception becomes a ``failed`` status with a message naming the fix; nothing is left "running"
(a process killed outright is detected as dead by the JobManager instead).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import traceback
from pathlib import Path

from fintune.errors import FinTuneError
from fintune.quiet import quiet_libraries
from trainer import registry
from trainer.events import EventWriter


def explain(exc: BaseException) -> str:
    """A user-facing message for a training failure: the problem and the fix."""
    if isinstance(exc, FinTuneError):
        return str(exc)
    text = f"{type(exc).__name__}: {exc}".strip()
    lower = text.lower()
    if isinstance(exc, MemoryError) or "out of memory" in lower or "cannot allocate memory" in lower:
        return (f"Out of memory ({text.splitlines()[0][:200]}). Lower per_device_batch_size or max_seq_length, "
                "turn on gradient_checkpointing, or use quantization nf4.")
    return f"Training crashed: {text.splitlines()[0][:300] if text else type(exc).__name__}. See log.txt in the run folder for details."


def main(argv: list[str] | None = None) -> int:
    quiet_libraries()
    parser = argparse.ArgumentParser(prog="python -m trainer.job")
    parser.add_argument("run_dir")
    parser.add_argument("--no-speedups", action="store_true", help="train with plain TRL batching (for comparisons)")
    args = parser.parse_args(argv)
    folder = Path(args.run_dir)
    main_rank = int(os.environ.get("RANK", "0")) == 0
    writer = EventWriter(folder, enabled=main_rank)
    if main_rank:
        import psutil

        status = registry.RunStatus.STOPPING if (folder / registry.STOP_FILE).exists() else registry.RunStatus.RUNNING
        registry.update_record(folder, status=status, pid=os.getpid(),
                               pid_create_time=psutil.Process().create_time(), started_at=time.time(), error=None)
    try:
        from trainer.train import run_training

        status = run_training(folder, speedups=not args.no_speedups)
    except BaseException as exc:  # noqa: BLE001 - record every failure, including KeyboardInterrupt
        message = explain(exc)
        tb = traceback.format_exc()
        print(tb, file=sys.stderr, flush=True)
        if main_rank:
            writer.error(message, traceback=tb[-4000:])
            writer.phase("failed", message=message)
            registry.update_record(folder, status=registry.RunStatus.FAILED, error=message, resume=False, finished_at=time.time())
        return 1
    if main_rank:
        if status == registry.RunStatus.STOPPED:
            (folder / registry.STOP_FILE).unlink(missing_ok=True)
        registry.update_record(folder, status=status, resume=False, finished_at=time.time())
    return 0


if __name__ == "__main__":
    sys.exit(main())
