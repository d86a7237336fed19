"""Evaluation reports on disk and on screen: file per data source, confusion plot, terminal table, UI frames."""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

from trainer.errors import TrainerError

REPORT_FILE = "eval.json"
CONFUSION_PNG = "confusion_matrix.png"

_METRIC_NAMES = {"accuracy": "accuracy", "macro_f1": "macro-F1", "invalid_rate": "not a label",
                 "exact_match": "exact match", "token_f1": "token F1", "rouge_l": "ROUGE-L",
                 "embedding_similarity": "embedding similarity"}


def report_name(data: str | Path | None) -> str:
    """``eval.json`` for the run's own held-out split; ``eval-<file stem>-<hash of its path>.json`` for other data,
    so evaluating on another file never overwrites the run's report on its own split."""
    if data is None:
        return REPORT_FILE
    path = Path(data).expanduser().resolve()
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", path.stem)[:40] or "data"
    return f"eval-{stem}-{hashlib.sha256(str(path).encode()).hexdigest()[:8]}.json"


def confusion_name(report_file: str) -> str:
    return CONFUSION_PNG if report_file == REPORT_FILE else report_file.replace(".json", "-confusion.png")


def load_report(run_dir: str | Path, data: str | Path | None = None) -> dict | None:
    """The stored report of a run on its own split (or on ``data``), or None when it has not been evaluated."""
    path = Path(run_dir) / report_name(data)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise TrainerError(f"The evaluation report {path} is unreadable ({exc}). Run `fintune eval {Path(run_dir).name}` again.") from exc


def write_report(path: Path, data: dict) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, path)


def plot_confusion(report: dict, out: str | Path) -> Path:
    """Base and fine-tuned confusion matrices side by side (rows: true label; columns: answer).
    Drawn on a backend-free ``Figure``, so no process-wide matplotlib backend is set."""
    from matplotlib.figure import Figure

    conf = report["confusion"]
    rows, cols = conf["labels"], conf["columns"]
    fig = Figure(figsize=(4.0 + 1.6 * len(cols), 2.4 + 0.8 * len(rows)), layout="constrained")
    axes = fig.subplots(1, 2)
    for ax, side, title in zip(axes, ("base", "tuned"), ("Base model", "Fine-tuned")):
        matrix = conf[side]
        top = max(1, max(max(r) for r in matrix))
        ax.imshow(matrix, cmap="Blues", vmin=0, vmax=top)
        acc = report["metrics"][side]["accuracy"]
        ax.set_title(f"{title} (accuracy {acc:.0%})")
        ax.set_xticks(range(len(cols)), labels=cols, rotation=30, ha="right")
        ax.set_yticks(range(len(rows)), labels=rows)
        ax.set_xlabel("model answer")
        ax.set_ylabel("true label")
        for i, row in enumerate(matrix):
            for j, value in enumerate(row):
                ax.text(j, i, str(value), ha="center", va="center", color="white" if value > top / 2 else "black")
    out = Path(out)
    fig.savefig(out, dpi=110)
    return out


def metric_rows(report: dict) -> list[tuple[str, float, float, float]]:
    """(metric, base, fine-tuned, change) rows, including the regression check."""
    rows = [(_METRIC_NAMES.get(name, name), base, report["metrics"]["tuned"][name], report["delta"][name])
            for name, base in report["metrics"]["base"].items()]
    reg = report.get("regression")
    if reg:
        rows.append(("general questions (regression)", reg["base"], reg["tuned"], reg["delta"]))
    return rows


def _majority(report: dict) -> dict | None:
    return (report.get("baselines") or {}).get("majority")


def format_report_table(report: dict) -> str:
    """A plain-text table of base vs fine-tuned (and the majority-class baseline), for the terminal."""
    title = f"Evaluation of run {report.get('run_name') or report['run_id']} ({report['run_id']})"
    how = report.get("answers", "generate")
    lines = [title, f"{report['task']}, {report['n_examples']} held-out examples"
             + (f" of {report['n_available']}" if report.get("n_available", 0) > report["n_examples"] else "")
             + (", label-likelihood answers" if how == "labels" else f", greedy={report['settings'].get('temperature') == 0}"), ""]
    rows = metric_rows(report)
    majority = _majority(report)
    width = max(len("metric"), *(len(r[0]) for r in rows))
    head = f"{'metric':<{width}}  {'base':>8}  {'tuned':>8}  {'change':>8}" + ("  majority" if majority else "")
    lines += [head, "-" * len(head)]
    for name, base, tuned, change in rows:
        key = next((k for k, v in _METRIC_NAMES.items() if v == name), name)
        extra = f"  {majority[key]:>8.3f}" if majority and key in majority and key != "invalid_rate" else ""
        lines.append(f"{name:<{width}}  {base:>8.3f}  {tuned:>8.3f}  {change:>+8.3f}{extra}")
    if majority:
        lines.append(f"(majority = always answering '{majority['label']}', the training split's most frequent label)")
    for side, warning in (report.get("warnings") or {}).items():
        lines.append(f"WARNING: the {'fine-tuned' if side == 'tuned' else 'base'} model {warning}.")
    reg = report.get("regression")
    if reg:
        lines += ["", ("WARNING: " if reg["flagged"] else "") + reg["verdict"]]
    if report.get("confusion_matrix_png"):
        lines.append(f"Confusion matrix: {report['confusion_matrix_png']} in the run folder")
    return "\n".join(lines)


def report_to_dataframes(report: dict) -> dict[str, Any]:
    """pandas DataFrames for the UI: ``metrics``, ``examples``, ``regression`` and (classification) ``per_class``."""
    import pandas as pd

    majority = _majority(report)
    metric_table = []
    for n, b, t, d in metric_rows(report):
        key = next((k for k, v in _METRIC_NAMES.items() if v == n), n)
        row = [n, round(b, 3), round(t, 3), f"{d:+.3f}"]
        if majority:
            row.append(round(majority[key], 3) if key in majority and key != "invalid_rate" else None)
        metric_table.append(row)
    frames: dict[str, Any] = {
        "metrics": pd.DataFrame(metric_table, columns=["metric", "base", "fine-tuned", "change"] + (["majority class"] if majority else [])),
    }
    ex_rows = [(kind, e["prompt"], e["reference"], e["base"], e["tuned"], round(e["base_score"], 3), round(e["tuned_score"], 3))
               for kind in ("best", "worst") for e in report.get("examples", {}).get(kind, [])]
    frames["examples"] = pd.DataFrame(ex_rows, columns=["kind", "prompt", "reference", "base answer", "fine-tuned answer", "base score", "fine-tuned score"])
    reg = report.get("regression") or {}
    frames["regression"] = pd.DataFrame(
        [(i["question"], i["reference"], i["base"], i["tuned"], round(i["base_score"], 3), round(i["tuned_score"], 3)) for i in reg.get("items", [])],
        columns=["question", "reference", "base answer", "fine-tuned answer", "base score", "fine-tuned score"])
    if report.get("per_class"):
        frames["per_class"] = pd.DataFrame(
            [(label, round(report["per_class"]["base"][label]["f1"], 3), round(report["per_class"]["tuned"][label]["f1"], 3),
              report["per_class"]["tuned"][label]["support"]) for label in report["labels"]],
            columns=["label", "base F1", "fine-tuned F1", "support"])
    return frames
