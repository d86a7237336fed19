"""The run registry on disk: ``$FINTUNE_HOME/runs/<run_id>/``, one folder per fine-tune.

Layout (see docs/architecture.md): ``run.json`` (identity + status), ``plan.json``,
``data/train.jsonl`` + ``data/val.jsonl`` (``{"prompt", "completion"}`` rows), ``data/split.json``,
``data/validation.json``, ``events.jsonl``, ``log.txt``, ``checkpoints/``, ``adapter/``,
``metrics.json``, ``eval.json``, ``README.md``; ``STOP`` exists while a stop is requested.

``run.json`` is rewritten atomically (temp file + rename) under a file lock, so the UI, the CLI and
the job process can all update it.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import time
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Iterator

from filelock import FileLock

from fintune import paths
from trainer.errors import TrainerError



class RunStatus(StrEnum):
    """A run's life: ``preparing`` (folder being written; the pump never starts it) -> ``queued`` (only
    ``JobManager.submit``/``resume`` set it) -> ``running`` -> ``stopping`` -> ``stopped|completed|failed``."""

    PREPARING = "preparing"
    QUEUED = "queued"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"
    COMPLETED = "completed"
    FAILED = "failed"


STATUSES = tuple(s.value for s in RunStatus)
LIVE = (RunStatus.RUNNING, RunStatus.STOPPING)
TERMINAL = (RunStatus.STOPPED, RunStatus.COMPLETED, RunStatus.FAILED)
RUN_FILE = "run.json"
STOP_FILE = "STOP"


@dataclass
class RunInfo:
    """A run as the UI, CLI, chat engine and evaluator see it."""

    id: str
    name: str
    status: RunStatus
    run_dir: Path
    adapter_dir: Path | None
    base_model: str
    created_at: str
    task: str = "freeform"
    labels: list[str] | None = None
    error: str | None = None
    record: dict[str, Any] | None = None

    @classmethod
    def from_record(cls, run_dir: Path, record: dict[str, Any]) -> "RunInfo":
        adapter = run_dir / "adapter"
        has_adapter = (adapter / "adapter_config.json").is_file()
        status = record.get("status", RunStatus.FAILED)
        if status not in STATUSES:
            raise TrainerError(f"The run record in {run_dir} has an unknown status {status!r}; one of {STATUSES}. Fix or delete run.json.")
        return cls(
            id=record.get("id", run_dir.name), name=record.get("name") or run_dir.name, status=RunStatus(status),
            run_dir=run_dir, adapter_dir=adapter if has_adapter else None, base_model=record.get("base_model", ""),
            created_at=record.get("created_at", ""), task=record.get("task", "freeform"), labels=record.get("labels"),
            error=record.get("error"), record=record,
        )

    def label(self) -> str:
        return f"{self.name} [{self.status}] ({self.id})"


def runs_root() -> Path:
    return paths.runs_dir()


def new_run_id(name: str | None = None) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", (name or "run").lower()).strip("-")[:32] or "run"
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{slug}-{secrets.token_hex(2)}"


def run_dir(run_id: str) -> Path:
    if not re.fullmatch(r"[A-Za-z0-9._-]+", run_id or ""):
        raise TrainerError(f"'{run_id}' is not a valid run id. List runs with `fintune runs`.")
    return runs_root() / run_id


@contextmanager
def _locked(folder: Path) -> Iterator[None]:
    folder.mkdir(parents=True, exist_ok=True)
    with FileLock(folder / ".lock"):
        yield


def _write_json_atomic(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str), encoding="utf-8")
    os.replace(tmp, path)


def read_record(folder: str | Path) -> dict[str, Any]:
    path = Path(folder) / RUN_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TrainerError(f"No run at {folder} (run.json missing). List runs with `fintune runs`.") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise TrainerError(f"The run record {path} is unreadable ({exc}). Delete the folder or fix the JSON.") from None


def update_record(folder: str | Path, **changes: Any) -> dict[str, Any]:
    """Merge ``changes`` into run.json atomically and return the new record."""
    folder = Path(folder)
    if "status" in changes and changes["status"] not in STATUSES:
        raise TrainerError(f"Unknown run status {changes['status']!r}; one of {STATUSES}.")
    with _locked(folder):
        record = read_record(folder)
        record.update(changes)
        record["updated_at"] = time.strftime("%Y-%m-%dT%H:%M:%S")
        _write_json_atomic(folder / RUN_FILE, record)
    return record


def create_run(record: dict[str, Any], run_id: str | None = None) -> Path:
    """Create the run folder with its run.json, as ``preparing``: no pump starts it until ``submit`` queues it."""
    run_id = run_id or new_run_id(record.get("name"))
    folder = run_dir(run_id)
    if folder.exists():
        raise TrainerError(f"Run {run_id} already exists. Pick another run name.")
    (folder / "data").mkdir(parents=True)
    (folder / "checkpoints").mkdir()
    base = {"id": run_id, "name": record.get("name") or run_id, "status": RunStatus.PREPARING.value,
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%S"), "task": "freeform", "labels": None}
    _write_json_atomic(folder / RUN_FILE, {**base, **record, "id": run_id})
    return folder


def get_run(run_id: str) -> RunInfo:
    folder = run_dir(run_id)
    if not (folder / RUN_FILE).is_file():
        raise TrainerError(f"No run '{run_id}'. List runs with `fintune runs`.")
    return RunInfo.from_record(folder, read_record(folder))


def find_run(ref: str) -> RunInfo:
    """The one resolver for a run reference: an exact id, a name (the newest run with it), or a unique id prefix."""
    ref = (ref or "").strip()
    runs = list_runs()
    for run in runs:
        if run.id == ref:
            return run
    named = [r for r in runs if r.name == ref]
    if named:
        return named[0]
    prefixed = [r for r in runs if ref and r.id.startswith(ref)]
    if len(prefixed) == 1:
        return prefixed[0]
    if len(prefixed) > 1:
        listed = ", ".join(r.id for r in prefixed[:5])
        raise TrainerError(f"'{ref}' matches {len(prefixed)} runs ({listed}). Give more of the id, or the run's name.")
    raise TrainerError(f"No run '{ref}' (by id, id prefix or name). List runs with `fintune runs`.")


def list_runs(status: str | tuple[str, ...] | None = None) -> list[RunInfo]:
    """All runs, newest first; unreadable folders are skipped."""
    out: list[RunInfo] = []
    wanted = (status,) if isinstance(status, str) else status
    for folder in runs_root().iterdir():
        if not (folder / RUN_FILE).is_file():
            continue
        try:
            info = RunInfo.from_record(folder, read_record(folder))
        except TrainerError:
            continue
        if wanted is None or info.status in wanted:
            out.append(info)
    out.sort(key=lambda r: (r.created_at, r.id), reverse=True)
    return out


def last_checkpoint(folder: str | Path) -> Path | None:
    """The newest complete checkpoint folder (``checkpoints/checkpoint-<step>``), or None."""
    root = Path(folder) / "checkpoints"
    best: tuple[int, Path] | None = None
    if root.is_dir():
        for child in root.iterdir():
            m = re.fullmatch(r"checkpoint-(\d+)", child.name)
            if m and (child / "trainer_state.json").is_file():
                step = int(m.group(1))
                if best is None or step > best[0]:
                    best = (step, child)
    return best[1] if best else None


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    rows = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                rows.append(json.loads(line))
    return rows


def write_jsonl(path: str | Path, rows: list[dict[str, Any]]) -> None:
    tmp = Path(path).with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    os.replace(tmp, path)


def log_tail(folder: str | Path, lines: int = 25) -> str:
    path = Path(folder) / "log.txt"
    if not path.is_file():
        return ""
    with open(path, "rb") as handle:
        handle.seek(0, os.SEEK_END)
        size = handle.tell()
        handle.seek(max(0, size - 20_000))
        text = handle.read().decode("utf-8", errors="replace")
    # tqdm writes carriage returns; keep the last state of each line
    cleaned = [ln.split("\r")[-1] for ln in text.splitlines()]
    return "\n".join([ln for ln in cleaned if ln.strip()][-lines:])
