"""Held-out evaluation of a run: base model vs base + adapter, on the same prompts and settings.

``evaluate_run(run_dir)`` answers the run's validation split (or ``data``) twice through the shared
``ChatEngine`` — once with adapters disabled (the pure base), once with the run's adapter — and scores both:

* classification (a closed label set): by default each label's continuation is scored by log-likelihood and the
  best label is the answer (``EvalConfig.classification_answers="labels"``), for base and tuned alike, so no
  answer is "not a label"; free generation mapped to a label stays available (and reports the invalid rate).
  Accuracy, macro-F1, per-class F1 and confusion matrix (``sklearn.metrics``), next to the majority-class
  baseline of the training split, with a warning when a model collapses to one label.
* free-form answers: exact match, token F1, ROUGE-L and embedding similarity (all-MiniLM-L6-v2) to the reference.
* the best and worst examples (largest gain / loss of tuned over base), side by side.
* a regression check on fixed general questions that tells a task adapter's expected narrowing from damage.

Both models see the run's own conversation (``trainer.prompts``), exactly as in training. The report goes to
``<run_dir>/eval.json`` for the run's own split, or a per-file ``eval-<name>-<hash>.json`` for other data
(``trainer.eval_report``). Config: ``trainer.eval_config``; scoring: ``trainer.eval_scoring``.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable

from fintune.text_files import json_lines
from trainer import metrics
from trainer.errors import TrainerError
from trainer.eval_config import EvalConfig, build_messages
from trainer.eval_report import (CONFUSION_PNG, REPORT_FILE, confusion_name, format_report_table, load_report,
                                 metric_rows, plot_confusion, report_name, report_to_dataframes, write_report)
from trainer.eval_scoring import regression_verdict, score_classification, score_freeform
from trainer.prompts import TASKS, label_instruction

__all__ = ["CONFUSION_PNG", "REPORT_FILE", "EvalConfig", "build_messages", "evaluate_run", "format_report_table",
           "load_report", "metric_rows", "plot_confusion", "report_to_dataframes", "label_instruction"]

REGRESSION_FILE = Path(__file__).resolve().parent / "data" / "regression_questions.jsonl"
REPORT_VERSION = 2

Progress = Callable[[float, str], Any]
"""``progress(fraction_done, message)``; a ``gr.Progress`` fits."""
Similarity = Callable[[list[str], list[str]], list[float]]
"""``similarity(predictions, references)`` -> one score in [-1, 1] per pair."""


# ----------------------------------------------------------------------------------------- data
def read_rows(path: str | Path) -> list[dict[str, str]]:
    """Read a run split: JSONL rows ``{"prompt", "completion"}`` (as ``data/val.jsonl``)."""
    path = Path(path).expanduser()
    try:
        raw = [json.loads(line) for line in json_lines(path.read_text(encoding="utf-8")) if line.strip()]
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
    """Evaluate base vs base + the run's adapter; write the report (and, for classification, its confusion
    matrix PNG) into the run folder and return it.

    ``data``: a file to evaluate on instead of the run's held-out ``data/val.jsonl`` (its own report file).
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
    system_prompt = meta.get("system_prompt")

    if engine is None:
        from fintune.engine import ChatEngine

        say(0.0, "Loading the model")
        engine = ChatEngine.shared(meta.get("base_model"))
    if similarity is None and config.embedding_similarity:
        similarity = embedding_similarity

    by_labels = task == "classification" and config.classification_answers == "labels"
    settings = config.settings(config.answer_tokens(task))
    base_convs = [build_messages(r["prompt"], task, labels, for_base=True, system_prompt=system_prompt) for r in rows]
    tuned_convs = [build_messages(r["prompt"], task, labels, system_prompt=system_prompt) for r in rows]
    references = [r["completion"] for r in rows]
    n_reg = len(load_regression_questions()) if config.regression else 0
    work = 2 * len(rows) + 2 * n_reg  # answers, for progress
    done = [0]

    def in_batches(answer: Callable[[list[list[dict]]], list], convs: list[list[dict]], which: str) -> list:
        out: list = []
        for start in range(0, len(convs), config.batch_size):
            chunk = convs[start : start + config.batch_size]
            out += answer(chunk)
            done[0] += len(chunk)
            say(0.95 * done[0] / max(work, 1), f"{which}: {len(out)}/{len(convs)}")
        return out

    def generate(convs: list[list[dict]], which: str, adapter_path, gen_settings) -> list[str]:
        return in_batches(lambda chunk: engine.generate_batch(chunk, gen_settings, adapter=adapter_path,
                                                              batch_size=config.batch_size), convs, which)

    def score(convs: list[list[dict]], which: str, adapter_path) -> list:
        return in_batches(lambda chunk: engine.score_labels(chunk, labels, adapter=adapter_path,
                                                            batch_size=config.batch_size), convs, which)

    probs = None
    if by_labels:
        base_scores, tuned_scores = score(base_convs, "Base model", None), score(tuned_convs, "Fine-tuned", str(adapter))
        base_answers, tuned_answers = [s.best for s in base_scores], [s.best for s in tuned_scores]
        probs = {"base": [s.probs for s in base_scores], "tuned": [s.probs for s in tuned_scores]}
    else:
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
        "answers": "labels" if by_labels else "generate",
        "settings": settings.to_dict(),
        "system_prompt": system_prompt,
        "prompting": _prompting_note(task, labels, system_prompt, by_labels),
        "config": asdict(config),
    }
    say(0.95, "Scoring")
    if task == "classification":
        report.update(score_classification(rows, tuned_convs, {"base": base_answers, "tuned": tuned_answers}, labels,
                                           config, probs=probs, train_labels=_train_labels(run_dir)))
    else:
        report.update(score_freeform(rows, tuned_convs, base_answers, tuned_answers, references, config, similarity))

    if config.regression:
        report["regression"] = _regression(adapter, config, similarity, generate, task, labels)
    report["created_at"] = time.strftime("%Y-%m-%dT%H:%M:%S")
    report["duration_s"] = round(time.time() - started, 1)

    name = report_name(data)
    if task == "classification":
        try:
            plot_confusion(report, run_dir / confusion_name(name))
            report["confusion_matrix_png"] = confusion_name(name)
        except ImportError as exc:  # matplotlib missing: the numbers are still in the report
            report["confusion_matrix_png"] = None
            report["plot_error"] = str(exc)
    report["report_file"] = name
    write_report(run_dir / name, report)
    say(1.0, "Evaluation done")
    return report


def _prompting_note(task: str, labels: list[str] | None, system_prompt: str | None, by_labels: bool) -> str:
    how = (" Answers are the label with the highest log-likelihood, for base and fine-tuned alike." if by_labels else "")
    if system_prompt is not None:
        return f"Base and fine-tuned get the run's training prompt (system: '{system_prompt}')." + how
    if task == "classification" and labels:
        return ("Base and fine-tuned get the same prompt; the base prompt also lists the labels "
                f"('{label_instruction(labels)}') unless the prompt already names them." + how)
    return "Base and fine-tuned get the same prompt."


def _train_labels(run_dir: Path) -> list[str] | None:
    path = run_dir / "data" / "train.jsonl"
    if not path.is_file():
        return None
    return [r["completion"].strip() for r in read_rows(path)]


def _adapter_dir(run_dir: Path, meta: dict) -> Path:
    adapter = run_dir / "adapter"
    if not (adapter / "adapter_config.json").is_file():
        status = meta.get("status", "unknown")
        raise TrainerError(f"Run {meta.get('id', run_dir.name)} has no trained adapter yet (status: {status}). "
                           "Wait until training completes, or pick a completed run from `fintune runs`.")
    return adapter


def _regression(adapter: Path, config: EvalConfig, similarity, generate, task: str, labels: list[str] | None) -> dict:
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
    return regression_verdict(questions, base, tuned, list(base_scores), list(tuned_scores), config, score_name, task, labels)


def _progress(progress: Progress | None) -> Callable[[float, str], None]:
    def say(fraction: float, message: str) -> None:
        if progress is not None:
            progress(min(max(fraction, 0.0), 1.0), message)

    return say


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
    p.add_argument("--answers", choices=("labels", "generate"), default=EvalConfig.classification_answers,
                   help=EvalConfig.help()["classification_answers"])
    p.set_defaults(func=_cmd_eval)


def _cmd_eval(args) -> int:
    run_dir = resolve_run_dir(args.run)
    config = EvalConfig(max_examples=args.max_examples, batch_size=args.batch_size, regression=not args.no_regression,
                        classification_answers=args.answers)
    from tqdm import tqdm

    with tqdm(total=100, unit="%", desc="evaluating", dynamic_ncols=True, leave=False) as bar:
        def progress(fraction: float, message: str) -> None:
            bar.set_description_str(message[:40])
            bar.update(int(fraction * 100) - bar.n)

        report = evaluate_run(run_dir, data=args.data, config=config, progress=progress)
    if args.json == "-":
        print(json.dumps(report, indent=2, ensure_ascii=False))
        return 0
    print(format_report_table(report))
    print(f"Report: {run_dir / report['report_file']}")
    if args.json:
        Path(args.json).expanduser().write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
        print(f"JSON written to {args.json}")
    return 0
