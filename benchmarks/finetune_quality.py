"""Fine-tune quality on the user's path: advise -> that plan -> the job -> evaluation on rows training never saw.

The shared tweets (``sent_train.csv``) are split once (``benchmarks/tweet_splits.py``): the 1,000-row report split
is held out; the other 8,543 rows are the user's upload. Everything goes through the ``fintune`` CLI:

1. ``fintune advise GOAL --data train.csv --json`` writes the plan (sized to the default 30-minute budget);
2. ``fintune train train.csv --plan plan.json`` runs the one background job and waits for it;
3. ``fintune eval RUN --data report.csv`` scores base and tuned with label-likelihood answers.

In the same run it fits the classical baselines on the very rows the job trained on: the majority class and
TF-IDF + logistic regression (scikit-learn), plus TF-IDF + LR on the whole upload. Prints one table, writes JSON.

    python benchmarks/finetune_quality.py            # the full run (~45 min on the 2-core CPU)
    python benchmarks/finetune_quality.py --smoke    # plumbing only: 300 rows, 2-minute budget, 100 report rows
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.tweet_splits import LABEL_NAMES, write_csv, write_splits  # noqa: E402
from fintune.text_files import json_lines  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
GOAL = "Classify financial news tweets as bearish, bullish or neutral"


def fintune(*args: str, env: dict, capture: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fintune", *args], cwd=REPO, env=env, text=True,
                          capture_output=capture, stdout=None if capture else sys.stderr)


def tfidf_baseline(train_texts: list[str], train_labels: list[str], test_texts: list[str], test_labels: list[str]) -> dict:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.pipeline import make_pipeline

    model = make_pipeline(TfidfVectorizer(ngram_range=(1, 2), min_df=1, sublinear_tf=True),
                          LogisticRegression(max_iter=2000, C=10.0))
    model.fit(train_texts, train_labels)
    pred = model.predict(test_texts)
    labels = sorted(set(LABEL_NAMES.values()))
    per_class = f1_score(test_labels, pred, labels=labels, average=None, zero_division=0)
    return {"accuracy": float(accuracy_score(test_labels, pred)), "macro_f1": float(f1_score(test_labels, pred, labels=labels, average="macro", zero_division=0)),
            "per_class_f1": {lab: float(f) for lab, f in zip(labels, per_class)}}


def advise(train_csv: Path, budget: float | None, env: dict, timings: dict) -> dict | None:
    """``fintune advise --json`` on the upload: the recommendation with its plan (None when it is not fine-tuning)."""
    started = time.time()
    advise_args = ["advise", GOAL, "--data", str(train_csv), "--json"] + (["--time-budget", str(budget)] if budget else [])
    advice = fintune(*advise_args, env=env)
    timings["advise_s"] = round(time.time() - started, 1)
    if advice.returncode != 0:
        print(advice.stderr, file=sys.stderr)
        return None
    rec = json.loads(advice.stdout)
    if rec["approach"] not in ("finetune", "both") or not rec.get("plan"):
        print(f"The advisor did not recommend fine-tuning: {rec['approach']}", file=sys.stderr)
        return None
    return rec


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="Plumbing only: small data, short budget.")
    parser.add_argument("--report-rows", type=int, default=1000, help="Report-split rows to score (default all 1,000).")
    parser.add_argument("--time-budget", type=float, default=None, help="Passed to `fintune advise` (default: the advisor's default budget).")
    parser.add_argument("--reuse-run", action="store_true", help="Skip advise + train: evaluate the finished run named 'quality' in --home (its plan.json is the advisor's).")
    parser.add_argument("--home", default=None, help="FINTUNE_HOME to use (default: a new temp folder: no earlier runs, built-in calibration).")
    args = parser.parse_args()
    home = Path(args.home or tempfile.mkdtemp(prefix="fintune-quality-"))
    env = {**os.environ, "FINTUNE_HOME": str(home)}
    splits = write_splits(home / "splits")
    train_csv, report_csv = splits["train"], splits["report"]
    report_rows = args.report_rows
    budget = args.time_budget
    if args.smoke:
        train_csv = write_csv(read_csv(train_csv)[:300], home / "splits" / "smoke-train.csv")
        report_rows, budget = min(report_rows, 100), budget or 2.0

    timings: dict[str, float] = {}
    plan_path = home / "plan.json"
    if args.reuse_run:
        rec = {"approach": "finetune", "confidence": None, "plan": json.loads(plan_path.read_text())}
    else:
        rec = advise(train_csv, budget, env, timings)
        if rec is None:
            return 1
        plan_path.write_text(json.dumps(rec["plan"], indent=2))
        started = time.time()
        train = fintune("train", str(train_csv), "--plan", str(plan_path), "--run-name", "quality", "--no-eval", env=env, capture=False)
        timings["train_cli_s"] = round(time.time() - started, 1)
        if train.returncode != 0:
            return 1
    estimate = rec["plan"].get("time_estimate") or {}
    run = next(r for r in json.loads(fintune("runs", "--json", env=env).stdout) if r["name"] == "quality")
    run_dir = home / "runs" / run["id"]
    record = json.loads((run_dir / "run.json").read_text())
    metrics = json.loads((run_dir / "metrics.json").read_text())
    history = metrics.get("log_history", [])
    validation_s = sum(h.get("eval_runtime", 0.0) for h in history)
    job_s = record["finished_at"] - record["started_at"]

    started = time.time()
    out = home / "eval-report.json"
    ev = fintune("eval", "quality", "--data", str(report_csv), "--max-examples", str(report_rows), "--json", str(out), env=env)
    timings["eval_s"] = round(time.time() - started, 1)
    if ev.returncode != 0:
        print(ev.stderr, file=sys.stderr)
        return 1
    report = json.loads(out.read_text())

    trained = [json.loads(line) for line in json_lines((run_dir / "data" / "train.jsonl").read_text(encoding="utf-8")) if line.strip()]
    upload = read_csv(train_csv)
    test = read_csv(report_csv)[:report_rows]
    test_texts, test_labels = [r["text"] for r in test], [LABEL_NAMES[r["label"]] for r in test]
    tfidf_same = tfidf_baseline([r["prompt"] for r in trained], [r["completion"] for r in trained], test_texts, test_labels)
    tfidf_all = tfidf_baseline([r["text"] for r in upload], [LABEL_NAMES[r["label"]] for r in upload], test_texts, test_labels)

    def side(name: str) -> dict:
        m = report["metrics"][name]
        return {"accuracy": m["accuracy"], "macro_f1": m["macro_f1"], "invalid_rate": m["invalid_rate"],
                "per_class_f1": {k: v["f1"] for k, v in report["per_class"][name].items()}}

    majority = report["baselines"]["majority"]
    rows = {"base (label scoring)": side("base"), "fine-tuned (label scoring)": side("tuned"),
            f"majority class ('{majority['label']}')": {**majority, "per_class_f1": {}},
            f"TF-IDF + LR, same {len(trained):,} rows": tfidf_same, f"TF-IDF + LR, all {len(upload):,} rows": tfidf_all}
    print(f"\nTweets, {report['n_examples']} held-out rows (report split), plan: lr {rec['plan']['learning_rate']}, "
          f"{rec['plan']['num_epochs']:g} epoch(s), {len(trained):,} training rows")
    print(f"{'model':<34} {'acc':>6} {'macroF1':>8} {'bearish':>8} {'bullish':>8} {'neutral':>8}")
    for name, r in rows.items():
        f1 = r.get("per_class_f1") or {}
        cells = "".join(f"{f1[k]:>9.3f}" if k in f1 else f"{'-':>9}" for k in ("bearish", "bullish", "neutral"))
        print(f"{name:<34} {r['accuracy']:>6.3f} {r['macro_f1']:>8.3f}{cells}")
    print(f"\ntraining job wall time {job_s / 60:.1f} min (estimate before Start: {estimate.get('minutes', '?')} min); "
          f"validation {validation_s:.0f} s = {validation_s / job_s:.1%} of the job; "
          f"{metrics.get('train_tokens_per_s')} tokens/s; speed-ups {metrics.get('speedups')}")
    if report.get("warnings"):
        print(f"warnings: {report['warnings']}")
    print(f"regression check: {report.get('regression', {}).get('verdict')}")
    result = {"plan": rec["plan"], "advice": {k: rec[k] for k in ("approach", "confidence")}, "rows": rows,
              "n_report": report["n_examples"], "n_trained": len(trained), "job_wall_s": round(job_s, 1),
              "estimate_min": estimate.get("minutes"), "validation_s": round(validation_s, 1),
              "validation_share": validation_s / job_s, "tokens_per_s": metrics.get("train_tokens_per_s"),
              "speedups": metrics.get("speedups"), "timings": timings, "warnings": report.get("warnings"),
              "regression": {k: report.get("regression", {}).get(k) for k in ("kind", "delta", "verdict")}, "smoke": args.smoke}
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"finetune_quality{'-smoke' if args.smoke else ''}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(result, indent=2))
    print(f"JSON: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
