"""Progress events: one JSON object per line in ``<run>/events.jsonl``, written by the job, read by UI and CLI.

Each event has ``t`` (unix time) and ``kind``:
- ``phase``: ``phase`` in PHASES, optional ``message``
- ``log``: a training log line (``step``, ``total_steps``, ``loss``, ``learning_rate``, ``tokens_per_s``, ``eta_s``, ``epoch``)
- ``eval``: ``step``, ``eval_loss``
- ``checkpoint``: ``step``, ``path``
- ``error``: ``message`` (and ``traceback``) — a failure, or a non-fatal problem such as a failed evaluation
Writers append whole lines and flush; readers skip a torn last line, so a crash never breaks the reader.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PHASES = ("queued", "preparing", "tokenizing", "training", "evaluating", "saving", "done", "stopped", "failed")
EVENTS_FILE = "events.jsonl"


class EventWriter:
    """Append-only JSON-lines writer (safe to create in several processes; each line is one write)."""

    def __init__(self, run_dir: str | Path, enabled: bool = True):
        self.path = Path(run_dir) / EVENTS_FILE
        self.enabled = enabled

    def emit(self, kind: str, **data: Any) -> dict:
        event = {"t": round(time.time(), 3), "kind": kind, **{k: v for k, v in data.items() if v is not None}}
        if self.enabled:
            line = json.dumps(event, default=str) + "\n"
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, line.encode("utf-8"))
            finally:
                os.close(fd)
        return event

    def phase(self, phase: str, message: str | None = None, **data: Any) -> dict:
        return self.emit("phase", phase=phase, message=message, **data)

    def error(self, message: str, traceback: str | None = None) -> dict:
        return self.emit("error", message=message, traceback=traceback)


def read_events(run_dir: str | Path, offset: int = 0) -> tuple[list[dict], int]:
    """Events from byte ``offset`` on, and the offset to pass next time (incremental polling)."""
    path = Path(run_dir) / EVENTS_FILE
    if not path.is_file():
        return [], offset
    with open(path, "rb") as handle:
        handle.seek(offset)
        data = handle.read()
    events: list[dict] = []
    consumed = 0
    for raw in data.splitlines(keepends=True):
        if not raw.endswith(b"\n"):
            break  # torn last line: read it next time
        consumed += len(raw)
        try:
            events.append(json.loads(raw))
        except json.JSONDecodeError:
            continue
    return events, offset + consumed


@dataclass
class Progress:
    """The state of a run folded from its events: what the progress bar and the loss plot show."""

    phase: str = "queued"
    message: str = ""
    step: int = 0
    total_steps: int = 0
    eta_s: float | None = None
    tokens_per_s: float | None = None
    loss: list[tuple[int, float]] = field(default_factory=list)
    eval_loss: list[tuple[int, float]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    last_checkpoint_step: int | None = None
    resumed_from_step: int | None = None

    @property
    def fraction(self) -> float:
        return min(1.0, self.step / self.total_steps) if self.total_steps else 0.0

    def update(self, event: dict) -> None:
        kind = event.get("kind")
        if kind == "phase":
            self.phase = event.get("phase", self.phase)
            self.message = event.get("message") or ""
            if event.get("total_steps"):
                self.total_steps = int(event["total_steps"])
            if event.get("resumed_from_step") is not None:
                self.resumed_from_step = int(event["resumed_from_step"])
                # a resumed run replays nothing: drop points past the checkpoint it resumed from
                self.loss = [p for p in self.loss if p[0] <= self.resumed_from_step]
                self.eval_loss = [p for p in self.eval_loss if p[0] <= self.resumed_from_step]
        elif kind == "log":
            self.step = int(event.get("step", self.step))
            self.total_steps = int(event.get("total_steps") or self.total_steps)
            self.eta_s = event.get("eta_s")
            self.tokens_per_s = event.get("tokens_per_s", self.tokens_per_s)
            if event.get("loss") is not None:
                self.loss.append((self.step, float(event["loss"])))
        elif kind == "eval":
            if event.get("eval_loss") is not None:
                self.eval_loss.append((int(event.get("step", self.step)), float(event["eval_loss"])))
        elif kind == "checkpoint":
            self.last_checkpoint_step = int(event.get("step", 0))
        elif kind == "error":
            self.errors.append(str(event.get("message", "")))

    def describe(self) -> str:
        text = f"{self.phase}"
        if self.total_steps:
            text += f" — step {self.step}/{self.total_steps}"
        if self.eta_s is not None and self.phase == "training":
            minutes, seconds = divmod(int(self.eta_s), 60)
            text += f", ETA {minutes}m{seconds:02d}s"
        if self.tokens_per_s:
            text += f", {self.tokens_per_s:,.0f} tokens/s"
        if self.message:
            text += f" — {self.message}"
        return text


def fold(events: list[dict], progress: Progress | None = None) -> Progress:
    progress = progress or Progress()
    for event in events:
        progress.update(event)
    return progress


def read_progress(run_dir: str | Path) -> Progress:
    events, _ = read_events(run_dir)
    return fold(events)


@dataclass
class RunSummary:
    """One line of a run list: what `fintune runs` prints and the Train tab's runs table shows."""

    id: str
    name: str
    status: str
    step: str  # "3/10", or "-" before the first logged step
    loss: float | None
    eval_loss: float | None
    task: str
    created_at: str
    error: str | None

    HEADERS = ("id", "name", "status", "step", "loss", "eval loss", "task", "created")

    def row(self) -> list:
        return [self.id, self.name, str(self.status), self.step, self.loss, self.eval_loss, self.task, self.created_at]


def summarize_runs(runs: list | None = None) -> list[RunSummary]:
    """Each run (default: every run, newest first) with its latest step and losses from its events."""
    if runs is None:
        from trainer import registry

        runs = registry.list_runs()
    out = []
    for run in runs:
        p = read_progress(run.run_dir)
        out.append(RunSummary(id=run.id, name=run.name, status=run.status, step=f"{p.step}/{p.total_steps}" if p.total_steps else "-",
                              loss=round(p.loss[-1][1], 4) if p.loss else None,
                              eval_loss=round(p.eval_loss[-1][1], 4) if p.eval_loss else None,
                              task=run.task, created_at=run.created_at, error=run.error))
    return out
