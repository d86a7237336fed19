"""Memory estimate vs measured peak RSS of a real short CPU LoRA run of the default model.

Plans sent_train.csv (classification) with the advisor for this machine (CPU), then runs plain TRL
``SFTTrainer`` with the plan's settings for a few steps, sampling the process RSS every 10 ms in a background
thread (and ``getrusage`` max RSS). Prints estimate vs measured and writes JSON to benchmarks/results/.

    python benchmarks/memory_estimate.py [--steps 10] [--rows 400] [--out benchmarks/results/memory_estimate.json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "twitter_fin_sentiment" / "sent_train.csv"
LABELS = {"0": "bearish", "1": "bullish", "2": "neutral"}
GOAL = "Classify financial news headlines as bullish, bearish or neutral"


class PeakRss:
    """Samples this process's RSS in a daemon thread."""

    def __init__(self, every_s: float = 0.01):
        import psutil

        self.proc, self.every, self.peak, self._stop = psutil.Process(), every_s, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            time.sleep(self.every)

    def __enter__(self):
        self.peak = self.proc.memory_info().rss
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def run(steps: int = 10, rows: int = 400, data: Path = DATA) -> dict:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import csv

    from datasets import Dataset
    from trl import SFTTrainer

    from advisor.decide import Advisor
    from fintune.hardware import detect
    from fintune.models import load_model, load_tokenizer

    machine = detect()
    rec = Advisor(machine=machine).advise(GOAL, data)
    plan = rec.plan
    assert plan is not None, f"expected a fine-tuning plan, got {rec.approach}"
    est = plan.memory_estimate

    with open(data, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        table = [r for _, r in zip(range(rows), reader)]
    ds = Dataset.from_list([
        {"prompt": [{"role": "user", "content": r["text"]}], "completion": [{"role": "assistant", "content": LABELS[r["label"]]}]}
        for r in table
    ])
    tokenizer = load_tokenizer(plan.base_model)
    model = load_model(plan.base_model, dtype=plan.compute_dtype, quantization=None if plan.quantization == "none" else plan.quantization, device="cpu")
    out_dir = ROOT / "benchmarks" / "results" / "_memory_run"
    cfg = plan.to_sft_config(out_dir, max_steps=steps, eval_strategy="no", save_strategy="no", report_to=[],
                             logging_steps=max(1, steps), use_cpu=True, dataloader_num_workers=0)
    trainer = SFTTrainer(model=model, args=cfg, train_dataset=ds, processing_class=tokenizer, peft_config=plan.to_lora_config())
    lengths = [len(x) for x in trainer.train_dataset["input_ids"]]
    started = time.time()
    with PeakRss() as meter:
        trainer.train()
    secs = time.time() - started
    import shutil

    shutil.rmtree(out_dir, ignore_errors=True)
    measured = meter.peak / 2**30
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux
    result = {
        "model": plan.base_model, "machine": machine.to_dict(), "steps": steps, "rows": rows,
        "plan": {k: getattr(plan, k) for k in ("per_device_batch_size", "gradient_accumulation_steps", "max_seq_length",
                                               "gradient_checkpointing", "quantization", "compute_dtype", "optimizer", "lora_r")},
        "token_lengths": {"max": max(lengths), "median": sorted(lengths)[len(lengths) // 2]},
        "estimate_gib": est["total_gib"], "estimate_breakdown": {k: est[k] for k in est if k.endswith("_gib")},
        "measured_peak_rss_gib": round(measured, 3), "getrusage_maxrss_gib": round(maxrss, 3),
        "relative_error": round((est["total_gib"] - measured) / measured, 3), "train_seconds": round(secs, 1),
    }
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--rows", type=int, default=400)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "memory_estimate.json"))
    args = ap.parse_args()
    res = run(args.steps, args.rows)
    print(f"{'model':24s} {'steps':>5s} {'batch x len':>12s} {'estimate GiB':>13s} {'measured GiB':>13s} {'error':>7s}")
    print(f"{res['model']:24s} {res['steps']:5d} {str(res['plan']['per_device_batch_size']) + ' x ' + str(res['plan']['max_seq_length']):>12s} "
          f"{res['estimate_gib']:13.2f} {res['measured_peak_rss_gib']:13.2f} {res['relative_error']:+7.0%}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(res, indent=2), encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
