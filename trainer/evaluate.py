"""Held-out evaluation of a run: base model vs base + adapter, on the same prompts and settings.

``evaluate_run(run_dir)`` answers the run's validation split (or ``data``) twice through the shared
``ChatEngine`` — once with adapters disabled (the pure base), once with the run's adapter — and scores both:

* classification (a closed label set): answers are mapped to a label (normalized exact match, else the
  first label word in the answer, else ``invalid``, counted wrong); accuracy, macro-F1, per-class F1 and a
  confusion matrix (``confusion_matrix.png``). Both models get the label set in the prompt
  ("Answer with one of: ...") so the base is judged fairly.
* free-form answers: exact match, token F1, ROUGE-L and embedding similarity (all-MiniLM-L6-v2) to the reference.
* the best and worst examples (largest gain / loss of tuned over base), side by side.
* a regression check: a fixed set of general questions (``trainer/data/regression_questions.jsonl``)
  answered by both; a drop in similarity to the reference answers beyond a threshold is flagged.

The report is written to ``<run_dir>/eval.json`` and returned. ``format_report_table`` renders it for the
CLI, ``report_to_dataframes`` for the UI. ``register_cli`` adds ``fintune eval``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Callable

from trainer import metrics
from trainer.errors import TrainerError

REPORT_FILE = "eval.json"
CONFUSION_PNG = "confusion_matrix.png"
REGRESSION_FILE = Path(__file__).resolve().parent / "data" / "regression_questions.jsonl"
TASKS = ("classification", "freeform")
REPORT_VERSION = 1

Progress = Callable[[float, str], Any]
"""``progress(fraction_done, message)``; a ``gr.Progress`` fits."""
Similarity = Callable[[list[str], list[str]], list[float]]
"""``similarity(predictions, references)`` -> one score in [-1, 1] per pair."""


@dataclass
class EvalConfig:
    """How to evaluate a run. The defaults take a few minutes on a laptop CPU with the default model."""

    max_examples: int = field(default=200, metadata={"help": "Evaluate the first N held-out rows (0 = all). Each row is answered twice (base and tuned)."})
    batch_size: int = field(default=8, metadata={"help": "Prompts generated together; lower it if memory is tight."})
    temperature: float = field(default=0.0, metadata={"help": "0 = greedy, so scores are reproducible. Same for base and tuned."})
    top_p: float = field(default=1.0, metadata={"help": "Nucleus sampling (only used when temperature > 0)."})
    repetition_penalty: float = field(default=1.0, metadata={"help": "1.0 = off; short label answers need none."})
    max_new_tokens: int | None = field(default=None, metadata={"help": "Answer length cap; None = 16 tokens for classification (a label, or a short sentence naming it), 160 for free-form."})
    regression: bool = field(default=True, metadata={"help": "Also answer the fixed general questions before/after to catch lost general ability."})
    regression_max_new_tokens: int = field(default=48, metadata={"help": "Answer length cap for the regression questions."})
    regression_drop_threshold: float = field(default=0.05, metadata={"help": "Flag the run when mean similarity on the general questions drops by more than this."})
    embedding_similarity: bool = field(default=True, metadata={"help": "Score free-form and regression answers by sentence-embedding cosine similarity (all-MiniLM-L6-v2)."})
    show_examples: int = field(default=5, metadata={"help": "How many best and worst examples to keep in the report."})

    def __post_init__(self) -> None:
        def bad(name: str, fix: str) -> TrainerError:
            return TrainerError(f"Evaluation setting `{name}`={getattr(self, name)!r} is invalid: {fix}.")

        if int(self.max_examples) < 0:
            raise bad("max_examples", "use 0 (all rows) or a positive count such as 200")
        if int(self.batch_size) < 1:
            raise bad("batch_size", "use a positive whole number such as 8")
        if not 0 <= self.temperature <= 2:
            raise bad("temperature", "use 0 (greedy) to 2")
        if self.max_new_tokens is not None and not 1 <= int(self.max_new_tokens) <= 4096:
            raise bad("max_new_tokens", "use 1 to 4096, or leave empty for the task default")
        if not 1 <= int(self.regression_max_new_tokens) <= 4096:
            raise bad("regression_max_new_tokens", "use 1 to 4096")
        if not 0 <= self.regression_drop_threshold <= 1:
            raise bad("regression_drop_threshold", "use a similarity difference between 0 and 1, e.g. 0.05")
        if int(self.show_examples) < 0:
            raise bad("show_examples", "use 0 or more")

    def answer_tokens(self, task: str) -> int:
        if self.max_new_tokens:
            return int(self.max_new_tokens)
        return 16 if task == "classification" else 160

    def settings(self, max_new_tokens: int):
        """The ``GenerationSettings`` used for both base and tuned answers."""
        from fintune.engine import GenerationSettings

        return GenerationSettings(temperature=self.temperature, top_p=self.top_p, max_new_tokens=max_new_tokens,
                                  repetition_penalty=self.repetition_penalty)

    @classmethod
    def help(cls) -> dict[str, str]:
        return {f.name: f.metadata.get("help", "") for f in fields(cls)}


# ----------------------------------------------------------------------------------------- prompts
def label_instruction(labels: list[str]) -> str:
    return f"Answer with one of: {', '.join(labels)}."


def build_messages(prompt: str, task: str = "freeform", labels: list[str] | None = None, for_base: bool = False) -> list[dict]:
    """The chat a model sees for one held-out row.

    The fine-tuned model gets the prompt exactly as in training (one user turn, as ``trainer.train``
    formats rows). For classification the base model gets the same prompt plus the label set
    ("Answer with one of: ...") unless the prompt already names every label: the tuned model learned
    the label set from its data, the base can only learn it from the prompt, so this is what makes the
    comparison fair rather than a test of guessing the label vocabulary.
    """
    content = prompt
    if for_base and task == "classification" and labels and not _names_all(prompt, labels):
        content = f"{prompt.rstrip()}\n\n{label_instruction(labels)}"
    return [{"role": "user", "content": content}]


def _names_all(text: str, labels: list[str]) -> bool:
    words = f" {metrics.normalize_text(text)} "
    return all(f" {metrics.normalize_text(label)} " in words for label in labels)


# ----------------------------------------------------------------------------------------- data
def read_rows(path: str | Path) -> list[dict[str, str]]:
    """Read a run split: JSONL rows ``{"prompt", "completion"}`` (as ``data/val.jsonl``)."""
    path = Path(path).expanduser()
    try:
        raw = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except FileNotFoundError:
        raise TrainerError(f"Evaluation data {path} does not exist. Pass a CSV/JSON/JSONL file with `--data FILE`.") from None
    except (OSError, ValueError) as exc:
        raise TrainerError(f"Could not read {path}: {exc}. It should hold one JSON object per line with prompt and completion.") from exc
    rows = []
    for i, item in enumerate(raw):
        if not (isinstance(item, dict) and isinstance(item.get("prompt"), str) and isinstance(item.get("completion"), str)):
            raise TrainerError(f"Line {i + 1} of {path} is not a {{\"prompt\": ..., \"completion\": ...}} object. "
                               "Pass other data with `--data FILE` (any format the Train tab accepts).")
        rows.append({"prompt": item["prompt"], "completion": item["completion"].strip()})
    if not rows:
        raise TrainerError(f"{path} has no rows to evaluate. Add at least one prompt/completion pair.")
    return rows


def load_data_rows(path: str | Path, meta: dict | None = None) -> list[dict[str, str]]:
    """Rows from any file the Train tab accepts (CSV/JSON/JSONL/Parquet, any supported shape), read with
    the trainer's loader. The run's column mapping (label names, prompt template) is reused when the
    file has the same columns, so the models see prompts shaped like their training data."""
    from trainer.data import DataSpec, load_data

    path = Path(path).expanduser()
    if path.suffix.lower() == ".jsonl":
        try:
            return read_rows(path)  # already prompt/completion rows, e.g. another run's split
        except TrainerError:
            pass
    spec = None
    if meta and meta.get("data_spec"):
        try:
            from trainer.data import read_table

            candidate = DataSpec.from_dict(meta["data_spec"])
            if set(candidate.columns()) <= set(read_table(path).column_names):
                spec = candidate
        except (TrainerError, TypeError):
            spec = None
    loaded = load_data(path, spec)
    rows = [{"prompt": e.prompt, "completion": e.completion} for e in loaded.examples]
    if not rows:
        raise TrainerError(f"No usable rows in {path}. Check it with the Train tab's data preview, which lists the problem rows.")
    return rows


def infer_task(rows: list[dict[str, str]]) -> tuple[str, list[str] | None]:
    """The trainer's rule: classification when the references are a small closed set of short labels."""
    from trainer.validate import detect_task

    return detect_task([r["completion"].strip() for r in rows])


def load_run_meta(run_dir: Path) -> dict:
    try:
        return json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TrainerError(f"{run_dir} is not a FinTune run (no run.json). Pick a run from `fintune runs`.") from None
    except (OSError, ValueError) as exc:
        raise TrainerError(f"The run file {run_dir / 'run.json'} is unreadable ({exc}). Re-run training or delete the run.") from exc


def load_regression_questions(path: str | Path = REGRESSION_FILE) -> list[dict[str, str]]:
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def load_report(run_dir: str | Path) -> dict | None:
    """The stored ``eval.json`` of a run, or None when it has not been evaluated."""
    path = Path(run_dir) / REPORT_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise TrainerError(f"The evaluation report {path} is unreadable ({exc}). Run `fintune eval {Path(run_dir).name}` again.") from exc


# ----------------------------------------------------------------------------------------- embeddings
def embedding_similarity(predictions: list[str], references: list[str]) -> list[float]:
    """Cosine similarity of each prediction to its reference: all-MiniLM-L6-v2 through the RAG package's
    shared offline encoder (unit-normalised vectors, so the dot product is the cosine)."""
    if not predictions:
        return []
    from rag.encoder import Encoder

    encoder = Encoder.shared()
    a, b = encoder.encode(list(predictions)), encoder.encode(list(references))
    return [float(x) for x in (a * b).sum(axis=1)]


# ----------------------------------------------------------------------------------------- evaluation
def evaluate_run(run_dir: str | Path, data: str | Path | None = None, config: EvalConfig | None = None,
                 progress: Progress | None = None, *, engine=None, similarity: Similarity | None = None) -> dict:
    """Evaluate base vs base + the run's adapter; write ``eval.json`` (and ``confusion_matrix.png`` for
    classification) into the run folder and return the report.

    ``data``: a JSONL/CSV file to evaluate on instead of the run's held-out ``data/val.jsonl``.
    ``engine``: a ``ChatEngine`` (default: the shared one for the run's base model).
    ``similarity``: embedding-similarity function (default: MiniLM); tests pass a fake.
    """
    started = time.time()
    run_dir = Path(run_dir).expanduser()
    config = config or EvalConfig()
    say = _progress(progress)
    meta = load_run_meta(run_dir)
    adapter = _adapter_dir(run_dir, meta)

    if data:
        data_path = Path(data).expanduser()
        rows = load_data_rows(data_path, meta)
    else:
        data_path = run_dir / "data" / "val.jsonl"
        if not data_path.is_file():
            raise TrainerError(f"Run {meta.get('id', run_dir.name)} has no held-out split ({data_path}). Pass a file with `--data FILE`.")
        rows = read_rows(data_path)
    total_rows = len(rows)
    if config.max_examples:
        rows = rows[: int(config.max_examples)]

    task, labels = meta.get("task"), meta.get("labels")
    if task not in TASKS:
        task, inferred = infer_task(rows)
        labels = labels or inferred
    if task == "classification" and not labels:
        labels = sorted({r["completion"] for r in rows})
    labels = list(labels) if labels else None

    if engine is None:
        from fintune.engine import ChatEngine

        say(0.0, "Loading the model")
        engine = ChatEngine.shared(meta.get("base_model"))
    if similarity is None and config.embedding_similarity:
        similarity = embedding_similarity

    settings = config.settings(config.answer_tokens(task))
    base_convs = [build_messages(r["prompt"], task, labels, for_base=True) for r in rows]
    tuned_convs = [build_messages(r["prompt"], task, labels) for r in rows]
    references = [r["completion"] for r in rows]
    n_reg = len(load_regression_questions()) if config.regression else 0
    work = 2 * len(rows) + 2 * n_reg  # generations, for progress
    done = [0]

    def generate(convs: list[list[dict]], which: str, adapter_path, gen_settings) -> list[str]:
        out: list[str] = []
        for start in range(0, len(convs), config.batch_size):
            chunk = convs[start : start + config.batch_size]
            out += engine.generate_batch(chunk, gen_settings, adapter=adapter_path, batch_size=config.batch_size)
            done[0] += len(chunk)
            say(0.95 * done[0] / max(work, 1), f"{which}: {len(out)}/{len(convs)}")
        return out

    base_answers = generate(base_convs, "Base model", None, settings)
    tuned_answers = generate(tuned_convs, "Fine-tuned", str(adapter), settings)

    report: dict[str, Any] = {
        "version": REPORT_VERSION,
        "run_id": meta.get("id", run_dir.name),
        "run_name": meta.get("name"),
        "base_model": meta.get("base_model"),
        "adapter": str(adapter),
        "task": task,
        "labels": labels,
        "data": str(data_path),
        "n_examples": len(rows),
        "n_available": total_rows,
        "settings": settings.to_dict(),
        "prompting": ("Base and fine-tuned get the same prompt; the base prompt also lists the labels "
                      f"('{label_instruction(labels)}') unless the prompt already names them."
                      if task == "classification" else "Base and fine-tuned get the same prompt."),
        "config": asdict(config),
    }
    say(0.95, "Scoring")
    if task == "classification":
        report.update(_score_classification(rows, tuned_convs, base_answers, tuned_answers, labels, config))
    else:
        report.update(_score_freeform(rows, tuned_convs, base_answers, tuned_answers, references, config, similarity))

    if config.regression:
        report["regression"] = _regression(engine, adapter, config, similarity, generate)
    report["created_at"] = time.strftime("%Y-%m-%dT%H:%M:%S")
    report["duration_s"] = round(time.time() - started, 1)

    if task == "classification":
        try:
            plot_confusion(report, run_dir / CONFUSION_PNG)
            report["confusion_matrix_png"] = CONFUSION_PNG
        except ImportError as exc:  # matplotlib missing: the numbers are still in the report
            report["confusion_matrix_png"] = None
            report["plot_error"] = str(exc)
    _write_json(run_dir / REPORT_FILE, report)
    say(1.0, "Evaluation done")
    return report


def _adapter_dir(run_dir: Path, meta: dict) -> Path:
    adapter = run_dir / "adapter"
    if not (adapter / "adapter_config.json").is_file():
        status = meta.get("status", "unknown")
        raise TrainerError(f"Run {meta.get('id', run_dir.name)} has no trained adapter yet (status: {status}). "
                           "Wait until training completes, or pick a completed run from `fintune runs`.")
    return adapter


def _score_classification(rows, conversations, base_answers, tuned_answers, labels, config) -> dict:
    truth = [r["completion"] for r in rows]
    # References are mapped too, so 'Bullish' in the data counts as the label 'bullish'.
    truth = [metrics.map_to_label(t, labels) if t not in labels else t for t in truth]
    preds = {"base": [metrics.map_to_label(a, labels) for a in base_answers],
             "tuned": [metrics.map_to_label(a, labels) for a in tuned_answers]}
    result: dict[str, Any] = {"metrics": {}, "per_class": {}, "confusion": {"labels": labels, "columns": [*labels, metrics.INVALID]}}
    for side, pred in preds.items():
        result["metrics"][side] = {
            "accuracy": metrics.accuracy(truth, pred),
            "macro_f1": metrics.macro_f1(truth, pred, labels),
            "invalid_rate": metrics.mean([p == metrics.INVALID for p in pred]),
        }
        result["per_class"][side] = metrics.per_class_f1(truth, pred, labels)
        result["confusion"][side] = metrics.confusion_matrix(truth, pred, labels, columns=[*labels, metrics.INVALID])
    result["delta"] = _delta(result["metrics"])
    items = [
        {"prompt": c[-1]["content"], "reference": t, "base": b, "tuned": u, "base_label": pb, "tuned_label": pu,
         "base_score": float(pb == t), "tuned_score": float(pu == t)}
        for c, t, b, u, pb, pu in zip(conversations, truth, base_answers, tuned_answers, preds["base"], preds["tuned"])
    ]
    result["example_score"] = "correct (1) / wrong (0)"
    result["examples"] = _best_worst(items, config.show_examples)
    return result


def _score_freeform(rows, conversations, base_answers, tuned_answers, references, config, similarity) -> dict:
    result: dict[str, Any] = {"metrics": {}}
    per_example: dict[str, dict[str, list[float]]] = {}
    for side, answers in (("base", base_answers), ("tuned", tuned_answers)):
        scores = {
            "exact_match": [metrics.exact_match(a, r) for a, r in zip(answers, references)],
            "token_f1": [metrics.token_f1(a, r) for a, r in zip(answers, references)],
            "rouge_l": [metrics.rouge_l(a, r) for a, r in zip(answers, references)],
        }
        if similarity is not None:
            scores["embedding_similarity"] = list(similarity(list(answers), list(references)))
        per_example[side] = scores
        result["metrics"][side] = {name: metrics.mean(values) for name, values in scores.items()}
    result["delta"] = _delta(result["metrics"])
    key = "embedding_similarity" if similarity is not None else "token_f1"
    items = [
        {"prompt": c[-1]["content"], "reference": r, "base": b, "tuned": u,
         "base_score": per_example["base"][key][i], "tuned_score": per_example["tuned"][key][i]}
        for i, (c, r, b, u) in enumerate(zip(conversations, references, base_answers, tuned_answers))
    ]
    result["example_score"] = key.replace("_", " ")
    result["examples"] = _best_worst(items, config.show_examples)
    return result


def _regression(engine, adapter: Path, config: EvalConfig, similarity, generate) -> dict:
    questions = load_regression_questions()
    convs = [[{"role": "user", "content": q["question"]}] for q in questions]
    settings = config.settings(int(config.regression_max_new_tokens))
    base = generate(convs, "General questions (base)", None, settings)
    tuned = generate(convs, "General questions (fine-tuned)", str(adapter), settings)
    refs = [q["reference"] for q in questions]
    if similarity is not None:
        score_name, base_scores, tuned_scores = "embedding_similarity", similarity(base, refs), similarity(tuned, refs)
    else:
        score_name = "token_f1"
        base_scores = [metrics.token_f1(a, r) for a, r in zip(base, refs)]
        tuned_scores = [metrics.token_f1(a, r) for a, r in zip(tuned, refs)]
    base_mean, tuned_mean = metrics.mean(base_scores), metrics.mean(tuned_scores)
    delta = tuned_mean - base_mean
    flagged = delta < -config.regression_drop_threshold
    return {
        "score": score_name,
        "n_questions": len(questions),
        "base": base_mean,
        "tuned": tuned_mean,
        "delta": delta,
        "threshold": config.regression_drop_threshold,
        "flagged": flagged,
        "verdict": (f"General ability dropped ({delta:+.3f} {score_name.replace('_', ' ')}): the adapter may have over-fitted. "
                    "Try fewer epochs, a lower learning rate or a smaller LoRA rank." if flagged
                    else f"No general-ability drop beyond {config.regression_drop_threshold:.2f} ({delta:+.3f})."),
        "items": [{"id": q.get("id", ""), "question": q["question"], "reference": r, "base": b, "tuned": t,
                   "base_score": float(bs), "tuned_score": float(ts)}
                  for q, r, b, t, bs, ts in zip(questions, refs, base, tuned, base_scores, tuned_scores)],
    }


def _delta(side_metrics: dict[str, dict[str, float]]) -> dict[str, float]:
    return {name: side_metrics["tuned"][name] - side_metrics["base"][name] for name in side_metrics["base"]}


def _best_worst(items: list[dict], k: int) -> dict[str, list[dict]]:
    """Best = tuned gained most over base (then highest tuned score); worst = lost most (then lowest
    tuned score). The two lists never share an example."""
    gain = [(it["tuned_score"] - it["base_score"], it["tuned_score"]) for it in items]
    k = min(k, (len(items) + 1) // 2)
    best = sorted(range(len(items)), key=lambda i: (-gain[i][0], -gain[i][1], i))[:k]
    rest = [i for i in range(len(items)) if i not in set(best)]
    worst = sorted(rest, key=lambda i: (gain[i][0], gain[i][1], i))[:k]
    return {"best": [items[i] for i in best], "worst": [items[i] for i in worst]}


def _progress(progress: Progress | None) -> Callable[[float, str], None]:
    def say(fraction: float, message: str) -> None:
        if progress is not None:
            progress(min(max(fraction, 0.0), 1.0), message)

    return say


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, path)


# ----------------------------------------------------------------------------------------- plots & tables
def plot_confusion(report: dict, out: str | Path) -> Path:
    """Base and fine-tuned confusion matrices side by side (rows: true label; columns: answer)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    conf = report["confusion"]
    rows, cols = conf["labels"], conf["columns"]
    fig, axes = plt.subplots(1, 2, figsize=(4.0 + 1.6 * len(cols), 2.4 + 0.8 * len(rows)), constrained_layout=True)
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
    plt.close(fig)
    return out


_METRIC_NAMES = {"accuracy": "accuracy", "macro_f1": "macro-F1", "invalid_rate": "not a label",
                 "exact_match": "exact match", "token_f1": "token F1", "rouge_l": "ROUGE-L",
                 "embedding_similarity": "embedding similarity"}


def metric_rows(report: dict) -> list[tuple[str, float, float, float]]:
    """(metric, base, fine-tuned, change) rows, including the regression check."""
    rows = [(_METRIC_NAMES.get(name, name), base, report["metrics"]["tuned"][name], report["delta"][name])
            for name, base in report["metrics"]["base"].items()]
    reg = report.get("regression")
    if reg:
        rows.append(("general questions (regression)", reg["base"], reg["tuned"], reg["delta"]))
    return rows


def format_report_table(report: dict) -> str:
    """A plain-text table of base vs fine-tuned, for the terminal."""
    title = f"Evaluation of run {report.get('run_name') or report['run_id']} ({report['run_id']})"
    lines = [title, f"{report['task']}, {report['n_examples']} held-out examples"
             + (f" of {report['n_available']}" if report.get("n_available", 0) > report["n_examples"] else "")
             + f", greedy={report['settings'].get('temperature') == 0}", ""]
    rows = metric_rows(report)
    width = max(len("metric"), *(len(r[0]) for r in rows))
    lines.append(f"{'metric':<{width}}  {'base':>8}  {'tuned':>8}  {'change':>8}")
    lines.append("-" * (width + 32))
    for name, base, tuned, delta in rows:
        lines.append(f"{name:<{width}}  {base:>8.3f}  {tuned:>8.3f}  {delta:>+8.3f}")
    reg = report.get("regression")
    if reg:
        lines += ["", ("WARNING: " if reg["flagged"] else "") + reg["verdict"]]
    if report.get("confusion_matrix_png"):
        lines.append(f"Confusion matrix: {report['confusion_matrix_png']} in the run folder")
    return "\n".join(lines)


def report_to_dataframes(report: dict) -> dict[str, Any]:
    """pandas DataFrames for the UI: ``metrics``, ``examples``, ``regression`` and (classification) ``per_class``."""
    import pandas as pd

    frames: dict[str, Any] = {
        "metrics": pd.DataFrame([(n, round(b, 3), round(t, 3), f"{d:+.3f}") for n, b, t, d in metric_rows(report)],
                                columns=["metric", "base", "fine-tuned", "change"]),
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


# ----------------------------------------------------------------------------------------- CLI
def resolve_run_dir(run: str) -> Path:
    """A run id, unique id prefix or name from the registry, or a path to a run folder."""
    candidate = Path(run).expanduser()
    if (candidate / "run.json").is_file():
        return candidate
    from trainer.registry import find_run

    return Path(find_run(run).run_dir)


def register_cli(sub) -> None:
    """Add ``fintune eval RUN [--data FILE] [--json OUT]``."""
    p = sub.add_parser("eval", help="Evaluate a fine-tuned run against its base model on held-out data.",
                       description="Answer held-out rows with the base model and the fine-tuned run, score both, "
                                   "check general questions for regressions, and store eval.json in the run folder.")
    p.add_argument("run", metavar="RUN", help="Run id, id prefix or name (see `fintune runs`), or the path of a run folder.")
    p.add_argument("--data", metavar="FILE", help="Evaluate on this file (CSV/JSON/JSONL/Parquet, any shape the Train tab accepts) instead of the run's held-out split.")
    p.add_argument("--json", metavar="OUT", help="Also write the full report as JSON to this file ('-' = stdout).")
    p.add_argument("--max-examples", type=int, default=EvalConfig.max_examples, help=EvalConfig.help()["max_examples"])
    p.add_argument("--batch-size", type=int, default=EvalConfig.batch_size, help=EvalConfig.help()["batch_size"])
    p.add_argument("--no-regression", action="store_true", help="Skip the general-questions regression check.")
    p.set_defaults(func=_cmd_eval)


def _cmd_eval(args) -> int:
    run_dir = resolve_run_dir(args.run)
    config = EvalConfig(max_examples=args.max_examples, batch_size=args.batch_size, regression=not args.no_regression)
    last = [-1]

    def progress(fraction: float, message: str) -> None:
        pct = int(fraction * 100)
        if pct != last[0]:
            last[0] = pct
            print(f"[{pct:3d}%] {message}", file=sys.stderr, flush=True)

    report = evaluate_run(run_dir, data=args.data, config=config, progress=progress)
    if args.json == "-":
        print(json.dumps(report, indent=2, ensure_ascii=False))
        return 0
    print(format_report_table(report))
    print(f"Report: {run_dir / REPORT_FILE}")
    if args.json:
        Path(args.json).expanduser().write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
        print(f"JSON written to {args.json}")
    return 0
