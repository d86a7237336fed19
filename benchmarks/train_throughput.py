"""Training throughput: FinTune's trainer vs. plain TRL ``SFTTrainer`` on the same data, model and LoRA settings.

Each variant runs in its own subprocess (clean peak RSS), with the same seed, data order, SFTConfig
hyperparameters and LoRA config; only FinTune's speed-ups differ (padding-free batches + LM head on
labelled positions only, see trainer/fast.py). Prints a table and the ratio, writes
benchmarks/results/train_throughput.json.

    python benchmarks/train_throughput.py                  # 300 tweets, 30 steps, batch 8
    python benchmarks/train_throughput.py --data ../shared/data/fiqa/fiqa_qa.jsonl --steps 10
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "twitter_fin_sentiment" / "sent_train.csv"


def worker(args) -> dict:
    """Train one variant and return its measurements (runs inside the subprocess)."""
    import torch
    from transformers import AutoModelForCausalLM

    from fintune.models import load_tokenizer, resolve_base_model
    from trainer.data import load_data
    from trainer.plan import TrainPlan
    from trainer.train import build_sft_config, to_conversational

    loaded = load_data(args.data)
    rows = [{"prompt": e.prompt, "completion": e.completion} for e in loaded.examples[: args.rows]]
    plan = TrainPlan(base_model=args.base_model or "smollm2-135m-instruct", max_steps=args.steps,
                     per_device_batch_size=args.batch_size, logging_steps=1, max_seq_length=args.max_length,
                     lora_dropout=0.0, seed=0)
    source = resolve_base_model(plan.base_model)
    tokenizer = load_tokenizer(plan.base_model)
    model = AutoModelForCausalLM.from_pretrained(source, dtype=torch.bfloat16, use_safetensors=True)
    sft_args = build_sft_config(plan, Path(args.out) / args.variant, False, "bfloat16", save_strategy="no")
    dataset = to_conversational(rows)
    common = dict(model=model, args=sft_args, train_dataset=dataset, processing_class=tokenizer, peft_config=plan.to_lora_config())
    if args.variant == "trl":
        from trl import SFTTrainer

        trainer = SFTTrainer(**common)
    else:
        from trainer.fast import FinTuneSFTTrainer

        trainer = FinTuneSFTTrainer(**common, speedups=True)
    # warm-up-free timing of the whole train() call; tokens = real (non-padding) tokens seen
    started = time.perf_counter()
    trainer.train()
    elapsed = time.perf_counter() - started
    history = trainer.state.log_history
    losses = [h["loss"] for h in history if "loss" in h]
    tokens = max(h.get("num_tokens", 0) for h in history)
    label_tokens = sum(sum(1 for t in ex["labels"] if t != -100) for ex in trainer.train_dataset.select(range(min(len(rows), args.steps * args.batch_size))))
    return {
        "variant": args.variant, "steps": args.steps, "batch_size": args.batch_size, "rows": len(rows),
        "tokens": tokens, "seconds": round(elapsed, 2), "tokens_per_s": round(tokens / elapsed, 1),
        "final_loss": losses[-1], "mean_loss_last5": sum(losses[-5:]) / len(losses[-5:]), "losses": losses,
        "padding_free": bool(getattr(trainer, "padding_free", False)), "threads": torch.get_num_threads(),
        "answer_tokens_in_first_batches": label_tokens,
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def run_variant(variant: str, args) -> dict:
    out_json = Path(args.out) / f"{variant}.json"
    cmd = [sys.executable, __file__, "--worker", variant, "--data", str(args.data), "--rows", str(args.rows),
           "--steps", str(args.steps), "--batch-size", str(args.batch_size), "--max-length", str(args.max_length),
           "--out", str(args.out)]
    if args.base_model:
        cmd += ["--base-model", args.base_model]
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0 or not out_json.is_file():
        sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-5000:])
        raise SystemExit(f"{variant} run failed")
    return json.loads(out_json.read_text())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="Training file (default: Twitter financial sentiment).")
    parser.add_argument("--rows", type=int, default=300, help="Rows used (a slice from the top).")
    parser.add_argument("--steps", type=int, default=30, help="Optimizer steps per variant.")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-length", type=int, default=512)
    parser.add_argument("--base-model", default=None, help="Default: the built-in SmolLM2-135M-Instruct.")
    parser.add_argument("--repeats", type=int, default=1, help="Alternate the variants this many times; the best time counts.")
    parser.add_argument("--out", default="/tmp/fintune-bench-train")
    parser.add_argument("--worker", choices=("trl", "fintune"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    if args.worker:
        args.variant = args.worker
        result = worker(args)
        (Path(args.out) / f"{args.worker}.json").write_text(json.dumps(result))
        return 0
    if not Path(args.data).is_file():
        raise SystemExit(f"data not found: {args.data}")
    runs: dict[str, list[dict]] = {"trl": [], "fintune": []}
    for _ in range(args.repeats):
        for variant in ("trl", "fintune"):
            runs[variant].append(run_variant(variant, args))
    best = {v: max(rs, key=lambda r: r["tokens_per_s"]) for v, rs in runs.items()}
    trl, ft = best["trl"], best["fintune"]
    ratio = ft["tokens_per_s"] / trl["tokens_per_s"]
    max_loss_diff = max(abs(a - b) for a, b in zip(trl["losses"], ft["losses"]))
    print(f"data={Path(args.data).name} rows={args.rows} steps={args.steps} batch={args.batch_size} threads={ft['threads']}")
    print(f"{'variant':10} {'tokens/s':>10} {'seconds':>9} {'tokens':>8} {'final loss':>11} {'last-5 loss':>12} {'peak RSS MiB':>13}")
    for r in (trl, ft):
        print(f"{r['variant']:10} {r['tokens_per_s']:>10.1f} {r['seconds']:>9.2f} {r['tokens']:>8} {r['final_loss']:>11.4f} "
              f"{r['mean_loss_last5']:>12.4f} {r['peak_rss_mib']:>13.1f}")
    print(f"speed-up (FinTune / plain TRL tokens/s): {ratio:.2f}x; max per-step loss difference {max_loss_diff:.4f}")
    results_dir = REPO / "benchmarks" / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    payload = {"benchmark": "train_throughput", "created_at": time.strftime("%Y-%m-%dT%H:%M:%S"), "data": Path(args.data).name,
               "rows": args.rows, "steps": args.steps, "batch_size": args.batch_size, "ratio": round(ratio, 3),
               "max_step_loss_diff": round(max_loss_diff, 5), "trl": trl, "fintune": ft, "all_runs": runs}
    (results_dir / "train_throughput.json").write_text(json.dumps(payload, indent=2))
    print(f"wrote {results_dir / 'train_throughput.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
