"""CUDA check: QLoRA (4-bit NF4, bitsandbytes) vs LoRA (bf16) through FinTune's real trainer, then chat on CUDA.

For each quantization setting it runs `fintune train` (the real CLI and background-job code path) for a few
steps and reads back what the run recorded: effective quantization, peak GPU memory, tokens/s, losses, and
that the adapter folder is a standard PEFT adapter. Then the ChatEngine loads base + adapter on the GPU and
answers. Prints a table and writes JSON (``--out``).

    python benchmarks/gpu_qlora.py --base-model PATH_OR_ID [--steps 10] [--out results/gpu_qlora.json]

With ``--tiny-from FOLDER`` (a model folder holding config.json + tokenizer files), it first builds a small
randomly initialised model of the same architecture, for machines where the real weights can't be copied.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LABELS = ["bearish", "bullish", "neutral"]
WORDS = {"bearish": "falls slumps misses cuts downgrade", "bullish": "jumps beats raises upgrade record", "neutral": "reports holds meeting schedules files"}


def synthetic_rows(n: int) -> list[dict]:
    rng = random.Random(0)
    rows = []
    for i in range(n):
        label = LABELS[i % 3]
        word = rng.choice(WORDS[label].split())
        rows.append({"text": f"$TICK{i} {word} after quarter number {i}", "label": LABELS.index(label)})
    return rows


def build_tiny(source: Path, out: Path, layers: int) -> Path:
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    config = AutoConfig.from_pretrained(source)
    config.num_hidden_layers = layers
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
    model.save_pretrained(out, safe_serialization=True)
    AutoTokenizer.from_pretrained(source).save_pretrained(out)
    return out


def train_once(base: str, data: Path, quantization: str, steps: int, home: Path) -> dict:
    name = f"gpu-{quantization}"
    cmd = [sys.executable, "-m", "fintune", "train", str(data), "--base-model", base, "--run-name", name,
           "--label-map", json.dumps({str(i): l for i, l in enumerate(LABELS)}),
           "--set", f"quantization={quantization}", "--set", f"max_steps={steps}", "--set", "eval_steps=5",
           "--set", "save_steps=5", "--set", "per_device_batch_size=16", "--set", "compute_dtype=bfloat16"]
    env = {**os.environ, "FINTUNE_HOME": str(home)}
    started = time.time()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.time() - started
    run_dir = max((p.parent for p in (home / "runs").glob("*/run.json") if json.loads(p.read_text()).get("name") == name),
                  key=lambda p: p.stat().st_mtime)
    record = json.loads((run_dir / "run.json").read_text())
    metrics = json.loads((run_dir / "metrics.json").read_text()) if (run_dir / "metrics.json").exists() else {}
    adapter = run_dir / "adapter"
    return {
        "quantization_requested": quantization,
        "quantization_effective": record.get("quantization_effective"),
        "status": record.get("status"),
        "exit_code": proc.returncode,
        "wall_s": round(wall, 1),
        "steps": metrics.get("global_step"),
        "train_loss": metrics.get("train_loss"),
        "final_eval_loss": metrics.get("final_eval_loss"),
        "tokens_per_s": metrics.get("train_tokens_per_s"),
        "peak_gpu_mem_gib": metrics.get("peak_gpu_mem_gib"),
        "adapter_files": sorted(p.name for p in adapter.iterdir()) if adapter.is_dir() else [],
        "adapter_dir": str(adapter),
        "stderr_tail": proc.stderr[-1500:] if proc.returncode else "",
    }


def chat_with_adapter(base: str, adapter: str) -> dict:
    from fintune.engine import ChatEngine, GenerationSettings

    engine = ChatEngine(base)
    question = [{"role": "user", "content": "$TICK7 jumps after quarter number 7"}]
    settings = GenerationSettings(temperature=0, max_new_tokens=8)
    return {"device": engine.info()["device"], "base": engine.generate(question, settings),
            "tuned": engine.generate(question, settings, adapter=adapter)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-model", default=None)
    parser.add_argument("--tiny-from", default=None, help="Folder with config.json + tokenizer: build a random model with --layers layers.")
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--rows", type=int, default=300)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "gpu_qlora.json"))
    args = parser.parse_args()

    import torch

    work = Path(tempfile.mkdtemp(prefix="fintune-gpu-"))
    base = args.base_model
    if args.tiny_from:
        base = str(build_tiny(Path(args.tiny_from), work / "tiny-model", args.layers))
    data = work / "headlines.csv"
    with open(data, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["text", "label"])
        writer.writeheader()
        writer.writerows(synthetic_rows(args.rows))

    result = {"gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
              "torch": torch.__version__, "base_model": base if not args.tiny_from else f"random {args.layers}-layer model from {args.tiny_from}",
              "runs": []}
    for quantization in ("nf4", "none"):
        result["runs"].append(train_once(base, data, quantization, args.steps, work / "home"))
    done = [r for r in result["runs"] if r["adapter_files"]]
    if done:
        result["chat"] = chat_with_adapter(base, done[0]["adapter_dir"])

    print(f"GPU: {result['gpu']}  torch {result['torch']}  base: {result['base_model']}")
    print(f"{'requested':<10} {'effective':<10} {'status':<10} {'steps':>5} {'loss':>8} {'eval':>8} {'tok/s':>9} {'peak GiB':>9} {'wall s':>7}")
    for r in result["runs"]:
        fmt = lambda v, f: format(v, f) if isinstance(v, (int, float)) else "-"  # noqa: E731
        print(f"{r['quantization_requested']:<10} {str(r['quantization_effective']):<10} {str(r['status']):<10} {fmt(r['steps'], 'd'):>5} "
              f"{fmt(r['train_loss'], '.4f'):>8} {fmt(r['final_eval_loss'], '.4f'):>8} {fmt(r['tokens_per_s'], '.0f'):>9} "
              f"{fmt(r['peak_gpu_mem_gib'], '.3f'):>9} {r['wall_s']:>7}")
        if r["stderr_tail"]:
            print(r["stderr_tail"])
    if "chat" in result:
        print(f"chat on {result['chat']['device']}: base={result['chat']['base']!r} tuned={result['chat']['tuned']!r}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
