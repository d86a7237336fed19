"""Chat decode speed of the default model: time to first token and decode tokens/s (median of N runs).

Runs the real ChatEngine (streaming, as the app does) and, for reference, the same model in float32, so the
effect of the dtype choice is visible. Prints a table and writes benchmarks/results/chat_decode.json.

    .venv/bin/python benchmarks/chat_decode.py [--runs 5] [--new-tokens 128]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import torch

from fintune.engine import ChatEngine, GenerationSettings
from fintune.models import resolve_base_model

PROMPTS = [
    "What is EBITDA and why do analysts use it?",
    "Explain the difference between a bond's coupon and its yield.",
    "What does a letter of credit do in international trade?",
]


def measure(engine: ChatEngine, new_tokens: int, runs: int) -> dict:
    settings = GenerationSettings(temperature=0, max_new_tokens=new_tokens, repetition_penalty=1.0)
    engine.generate([{"role": "user", "content": "Hi"}], GenerationSettings(temperature=0, max_new_tokens=4))  # warm-up
    ttfts, rates, lengths = [], [], []
    for i in range(runs):
        messages = [{"role": "user", "content": PROMPTS[i % len(PROMPTS)]}]
        started = time.perf_counter()
        first = None
        text = ""
        for delta in engine.stream(messages, settings):
            if first is None:
                first = time.perf_counter()
            text += delta
        finished = time.perf_counter()
        tokens = len(engine.tokenizer(text, add_special_tokens=False)["input_ids"])
        ttfts.append(first - started)
        rates.append((tokens - 1) / max(finished - first, 1e-9))
        lengths.append(tokens)
    return {
        "ttft_ms_median": round(statistics.median(ttfts) * 1000, 1),
        "decode_tok_s_median": round(statistics.median(rates), 1),
        "decode_tok_s_min": round(min(rates), 1),
        "tokens_median": statistics.median(lengths),
        "runs": runs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--new-tokens", type=int, default=128)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "chat_decode.json"))
    args = parser.parse_args()

    model = resolve_base_model(None)
    rows = {}
    for dtype in ("bfloat16", "float32"):
        engine = ChatEngine(model, dtype=dtype)
        rows[dtype] = measure(engine, args.new_tokens, args.runs)
        del engine
    result = {
        "model": "smollm2-135m-instruct",
        "device": "cpu" if not torch.cuda.is_available() else torch.cuda.get_device_name(0),
        "threads": torch.get_num_threads(),
        "machine": platform.processor() or platform.machine(),
        "new_tokens": args.new_tokens,
        "results": rows,
        "default_dtype": "bfloat16",
    }
    print(f"{'dtype':<10} {'TTFT ms (median)':>17} {'decode tok/s (median)':>22} {'min tok/s':>10} {'tokens':>7}")
    for dtype, row in rows.items():
        marker = "  <- app default" if dtype == "bfloat16" else ""
        print(f"{dtype:<10} {row['ttft_ms_median']:>17} {row['decode_tok_s_median']:>22} {row['decode_tok_s_min']:>10} {row['tokens_median']:>7}{marker}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
