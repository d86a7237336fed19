"""Recipe sweep for classification fine-tunes, through the user's path (advise -> plan -> train -> eval CLI).

Each configuration starts from the plan ``fintune advise --json --data TRAIN`` writes, overrides the swept
fields with ``--set``, trains with ``fintune train`` and scores on the dev split with ``fintune eval --data``
(label-likelihood answers). The report split is never used here. Prints a table and writes JSON.

    python benchmarks/finetune_sweep.py --rows 800 --configs lr2e-4,lr1e-3,lr3e-3,regularised
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.tweet_splits import write_splits  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
BASE = {"num_epochs": 1, "label_smoothing": 0.0, "neftune_noise_alpha": None, "learning_rate": 1e-3}
CONFIGS = {
    "lr2e-4": {"learning_rate": 2e-4},
    "lr2e-3-b8": {"learning_rate": 2e-3, "per_device_batch_size": 8, "gradient_accumulation_steps": 1},
    "lr1e-3-b8": {"learning_rate": 1e-3, "per_device_batch_size": 8, "gradient_accumulation_steps": 1},
    "lr1e-3": {},
    "lr3e-3": {"learning_rate": 3e-3},
    "regularised": {"label_smoothing": 0.1, "neftune_noise_alpha": 5.0},  # the previous default plan's regularisers
    "smoothing": {"label_smoothing": 0.1},
    "neftune": {"neftune_noise_alpha": 5.0},
    "r16": {"lora_r": 16, "lora_alpha": 32},
    "attn-only": {"lora_target_modules": ["q_proj", "k_proj", "v_proj", "o_proj"]},
}


def fintune(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fintune", *args], cwd=REPO, env=env, capture_output=True, text=True)


def run_config(name: str, overrides: dict, splits: dict, plan_path: Path, env: dict, eval_rows: int) -> dict:
    sets = [f"{k}={json.dumps(v)}" for k, v in {**BASE, **overrides}.items()]
    started = time.time()
    train = fintune("train", str(splits["pool"]), "--plan", str(plan_path), "--run-name", f"sweep-{name}",
                    *sum((["--set", s] for s in sets), []), "--no-eval", env=env)
    wall = time.time() - started
    if train.returncode != 0:
        return {"config": name, "error": (train.stderr or train.stdout)[-800:]}
    out = Path(tempfile.mkstemp(suffix=".json")[1])
    ev = fintune("eval", f"sweep-{name}", "--data", str(splits["dev"]), "--max-examples", str(eval_rows),
                 "--no-regression", "--json", str(out), env=env)
    if ev.returncode != 0:
        return {"config": name, "error": ev.stderr[-800:]}
    report = json.loads(out.read_text())
    runs = json.loads(fintune("runs", "--json", env=env).stdout)
    run = next(r for r in runs if r["name"] == f"sweep-{name}")
    metrics = json.loads((Path(env["FINTUNE_HOME"]) / "runs" / run["id"] / "metrics.json").read_text())
    tuned, base = report["metrics"]["tuned"], report["metrics"]["base"]
    return {"config": name, "overrides": {**BASE, **overrides}, "accuracy": tuned["accuracy"], "macro_f1": tuned["macro_f1"],
            "per_class_f1": {k: v["f1"] for k, v in report["per_class"]["tuned"].items()},
            "base_accuracy": base["accuracy"], "majority_accuracy": report["baselines"]["majority"]["accuracy"],
            "train_wall_s": round(wall, 1), "train_tokens_per_s": metrics.get("train_tokens_per_s"),
            "speedups": metrics.get("speedups"), "answer_counts": report.get("answer_counts", {}).get("tuned")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=800, help="Training rows taken from the pool split.")
    parser.add_argument("--eval-rows", type=int, default=300, help="Dev rows scored per configuration.")
    parser.add_argument("--configs", default="lr2e-4,lr1e-3,lr3e-3,regularised", help=f"Comma-separated, from {sorted(CONFIGS)}.")
    parser.add_argument("--home", default=None, help="FINTUNE_HOME for the runs (default: a new temp folder).")
    args = parser.parse_args()
    home = Path(args.home or tempfile.mkdtemp(prefix="fintune-sweep-"))
    env = {**os.environ, "FINTUNE_HOME": str(home)}
    splits = write_splits(home / "splits", pool_rows=args.rows)
    advice = fintune("advise", "Classify financial news tweets as bearish, bullish or neutral", "--data", str(splits["pool"]), "--json", env=env)
    if advice.returncode != 0:
        print(advice.stderr, file=sys.stderr)
        return 1
    plan_path = home / "plan.json"
    plan_path.write_text(json.dumps(json.loads(advice.stdout)["plan"], indent=2))
    results = []
    for name in args.configs.split(","):
        result = run_config(name, CONFIGS[name], splits, plan_path, env, args.eval_rows)
        results.append(result)
        print(json.dumps(result), flush=True)
    print(f"\n{'config':<12} {'acc':>6} {'macroF1':>8} {'bear':>6} {'bull':>6} {'neut':>6} {'train s':>8} {'tok/s':>7}")
    for r in results:
        if "error" in r:
            print(f"{r['config']:<12} error: {r['error'][:100]}")
            continue
        f1 = r["per_class_f1"]
        print(f"{r['config']:<12} {r['accuracy']:>6.3f} {r['macro_f1']:>8.3f} {f1.get('bearish', 0):>6.3f} {f1.get('bullish', 0):>6.3f} "
              f"{f1.get('neutral', 0):>6.3f} {r['train_wall_s']:>8.0f} {r['train_tokens_per_s'] or 0:>7}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"finetune_sweep-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps({"rows": args.rows, "eval_rows": args.eval_rows, "results": results}, indent=2))
    print(f"\nJSON: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
