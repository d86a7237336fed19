"""Does fine-tuning help? Base vs LoRA-tuned default model on financial-tweet sentiment, through FinTune itself.

Takes a seeded random slice of ``../shared/data/twitter_fin_sentiment/sent_train.csv`` (0 = bearish,
1 = bullish, 2 = neutral), and runs the product path end to end:

1. ``trainer.prepare.prepare_run`` — the Train tab's validation, label mapping and deterministic split;
2. ``python -m trainer.job RUN`` — the background training job (LoRA, completion-only loss);
3. the job's automatic held-out evaluation (``trainer.evaluate.evaluate_run``): base model (adapters
   off; the label set added to its prompt) vs base + adapter, answers mapped to the label set
   (not a label = wrong), accuracy and macro-F1, plus the general-questions regression check.

Prints a table and writes ``benchmarks/results/finetune_quality.json``. The run stays in the run list
(``fintune runs``), so its evaluation also shows in the Compare tab.

    .venv/bin/python benchmarks/finetune_quality.py                 # the full benchmark (~30 min of CPU)
    .venv/bin/python benchmarks/finetune_quality.py --smoke         # plumbing check in a few minutes
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "twitter_fin_sentiment" / "sent_train.csv"
RESULTS = REPO / "benchmarks" / "results"
LABEL_NAMES = {"0": "bearish", "1": "bullish", "2": "neutral"}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=str(DATA), help="The Twitter financial sentiment CSV (text,label).")
    p.add_argument("--train-rows", type=int, default=800, help="Training rows in the slice.")
    p.add_argument("--eval-rows", type=int, default=200, help="Held-out rows (the run's validation split, evaluated after training).")
    p.add_argument("--epochs", type=float, default=1.0)
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--lora-r", type=int, default=16)
    p.add_argument("--max-steps", type=int, default=-1)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--base-model", default=None, help="Default: FinTune's default model.")
    p.add_argument("--out", default=str(RESULTS / "finetune_quality.json"))
    p.add_argument("--smoke", action="store_true", help="Tiny sizes: checks the pipeline, numbers mean nothing.")
    args = p.parse_args(argv)
    if args.smoke:
        args.train_rows, args.eval_rows, args.max_steps = 48, 16, 3
        args.out = str(RESULTS / "finetune_quality_smoke.json")
    return args


def write_slice(src: Path, n_train: int, n_eval: int, seed: int, dest: Path) -> Counter:
    with open(src, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    rng = random.Random(seed)
    sample = rng.sample(rows, n_train + n_eval)
    with open(dest, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["text", "label"])
        writer.writeheader()
        writer.writerows({"text": r["text"], "label": r["label"]} for r in sample)
    return Counter(LABEL_NAMES[r["label"]] for r in sample)


def main(argv=None) -> int:
    args = parse_args(argv)
    src = Path(args.data)
    if not src.is_file():
        print(f"error: {src} not found; this benchmark needs the shared data folder beside the repo.", file=sys.stderr)
        return 2
    from trainer.evaluate import format_report_table, load_report
    from trainer.plan import TrainPlan
    from trainer.prepare import prepare_run

    started = time.time()
    work = Path(tempfile.mkdtemp(prefix="fintune-bench-"))
    slice_csv = work / "twitter_fin_sentiment_slice.csv"
    counts = write_slice(src, args.train_rows, args.eval_rows, args.seed, slice_csv)
    total = args.train_rows + args.eval_rows
    plan_fields = dict(num_epochs=args.epochs, learning_rate=args.lr, per_device_batch_size=args.batch_size,
                       lora_r=args.lora_r, lora_alpha=2 * args.lora_r, max_seq_length=256, max_steps=args.max_steps,
                       val_fraction=args.eval_rows / total, eval_steps=10_000, save_steps=10_000, seed=args.seed)
    if args.base_model:
        plan_fields["base_model"] = args.base_model
    plan = TrainPlan(**plan_fields)
    folder = prepare_run(slice_csv, plan, name="benchmark-tweet-sentiment" + ("-smoke" if args.smoke else ""))
    record = json.loads((folder / "run.json").read_text())
    print(f"run {folder.name}: {record['n_train']} train / {record['n_val']} held-out rows, labels {record['labels']}", file=sys.stderr)

    t0 = time.time()
    proc = subprocess.run([sys.executable, "-m", "trainer.job", str(folder)], cwd=REPO)
    job_s = time.time() - t0
    record = json.loads((folder / "run.json").read_text())
    if proc.returncode != 0 or record.get("status") != "completed":
        print(f"error: the training job ended {record.get('status')}: {record.get('error')}", file=sys.stderr)
        return 1
    report = load_report(folder)
    if report is None:
        print("error: the job finished without eval.json; see events.jsonl in the run folder.", file=sys.stderr)
        return 1
    metrics_file = json.loads((folder / "metrics.json").read_text())
    events = [json.loads(line) for line in (folder / "events.jsonl").read_text().splitlines() if line.strip()]
    phase_t = {e["phase"]: e["t"] for e in events if e.get("kind") == "phase"}
    train_s = (phase_t["evaluating"] - phase_t["preparing"]) if {"evaluating", "preparing"} <= set(phase_t) else None

    val_rows = [json.loads(line) for line in (folder / "data" / "val.jsonl").read_text().splitlines() if line.strip()]
    val_counts = Counter(r["completion"] for r in val_rows[: report["n_examples"]])
    majority = val_counts.most_common(1)[0]
    result = {
        "benchmark": "finetune_quality",
        "data": str(src), "slice_label_counts": dict(counts), "heldout_label_counts": dict(val_counts),
        "majority_class_accuracy": majority[1] / sum(val_counts.values()), "majority_class": majority[0],
        "run_id": folder.name, "run_dir": str(folder),
        "n_train": record["n_train"], "n_heldout_evaluated": report["n_examples"],
        "plan": {k: v for k, v in plan.to_dict().items() if k not in ("reasons", "memory_estimate")},
        "eval_settings": report["settings"], "prompting": report.get("prompting"),
        "base": report["metrics"]["base"], "tuned": report["metrics"]["tuned"], "delta": report["delta"],
        "per_class": report.get("per_class"), "confusion": report.get("confusion"),
        "regression": {k: report["regression"][k] for k in ("base", "tuned", "delta", "flagged", "verdict")} if report.get("regression") else None,
        "train_loss": metrics_file.get("train_loss"), "global_step": metrics_file.get("global_step"),
        "train_tokens_per_s": metrics_file.get("train_tokens_per_s"),
        "wall_s": {"job_total": round(job_s, 1), "load_and_train": round(train_s, 1) if train_s else None,
                   "evaluation": report.get("duration_s"), "benchmark_total": round(time.time() - started, 1)},
        "machine": {"cpu_cores": len(os.sched_getaffinity(0)), "platform": platform.platform(), "python": platform.python_version()},
        "smoke": args.smoke,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2), encoding="utf-8")

    print()
    print(format_report_table(report))
    print()
    print(f"majority class ({majority[0]}) accuracy on the same rows: {result['majority_class_accuracy']:.3f}")
    print(f"train: {record['n_train']} rows, {metrics_file.get('global_step')} steps, epochs {args.epochs}, lr {args.lr}, "
          f"batch {args.batch_size}, LoRA r {args.lora_r}; train loss {metrics_file.get('train_loss')}")
    print(f"wall time: job {job_s / 60:.1f} min (load+train {train_s / 60 if train_s else float('nan'):.1f} min, "
          f"evaluation {report.get('duration_s', 0) / 60:.1f} min), total {(time.time() - started) / 60:.1f} min")
    print(f"results: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
