"""Chat decode speed: FinTune's engine against the anchor engine on the same weights, base and a tuned run.

Each engine runs in its own process (engines in one process fight over threads), interleaved, on the same
GGUF file that FinTune serves (base, and a run's merged adapter):
- fintune:   ChatEngine.stream, the app's path (llama.cpp + FinTune's batching scheduler);
- anchor:    llama-cpp-python's own high-level ``Llama.create_completion`` streaming on that GGUF;
- reference: ChatEngine on transformers + PEFT (bf16), the path FinTune had before.
Prints TTFT / decode tok/s (median of --runs) and the ratio to the anchor; writes benchmarks/results/chat_decode.json.

    .venv/bin/python benchmarks/chat_decode.py [--runs 3] [--new-tokens 96] [--run RUN_ID]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
PROMPTS = ["What is EBITDA and why do analysts use it?", "Explain the difference between a bond's coupon and its yield.",
           "What does a letter of credit do in international trade?"]


def _adapter_for(run: str | None) -> str:
    """A run's adapter; without --run, a random non-zero LoRA on the real model (speed does not depend on training)."""
    from fintune import paths

    if run:
        from trainer.registry import find_run

        return str(find_run(run).adapter_dir)
    folder = paths.home() / "bench" / "random-lora" / "adapter"
    if not (folder / "adapter_config.json").is_file():
        import torch
        from peft import LoraConfig, get_peft_model

        from fintune.models import load_model, load_tokenizer

        torch.manual_seed(0)
        model = get_peft_model(load_model(None, dtype="float32"), LoraConfig(r=16, lora_alpha=32, target_modules="all-linear", init_lora_weights=False))
        model.save_pretrained(folder)
        load_tokenizer(None).save_pretrained(folder)
    return str(folder)


def _child(engine: str, adapter: str | None, runs: int, new_tokens: int) -> dict:
    from fintune.engine import ChatEngine, GenerationSettings, ServingConfig

    settings = GenerationSettings(temperature=0, max_new_tokens=new_tokens, repetition_penalty=1.0)
    chat = ChatEngine(None, serving=ServingConfig(backend="transformers" if engine == "reference" else "llama.cpp"))
    ttfts, rates = [], []
    if engine == "anchor":
        from llama_cpp import Llama

        from fintune.native_engine import physical_cores

        gguf = chat.native(adapter).path
        threads = physical_cores()  # the same threads FinTune's engine uses, so the ratio compares engines only
        llm = Llama(str(gguf), n_ctx=2048, n_threads=threads, n_threads_batch=threads, verbose=False)

        def stream(messages):
            ids = chat.tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_dict=True)["input_ids"]
            for part in llm.create_completion(list(ids), max_tokens=new_tokens, temperature=0, repeat_penalty=1.0, stream=True):
                yield part["choices"][0]["text"]
    else:
        def stream(messages):
            return chat.stream(messages, settings, adapter=adapter)
    list(stream([{"role": "user", "content": "Hi"}]))  # warm-up (and the one-time GGUF conversion)
    for i in range(runs):
        started, first, text = time.perf_counter(), None, ""
        for delta in stream([{"role": "user", "content": PROMPTS[i % len(PROMPTS)]}]):
            first = first or time.perf_counter()
            text += delta
        finished = time.perf_counter()
        tokens = len(chat.tokenizer(text, add_special_tokens=False)["input_ids"])
        ttfts.append(first - started)
        rates.append((tokens - 1) / max(finished - first, 1e-9))
    return {"ttft_ms": round(statistics.median(ttfts) * 1000, 1), "tok_s": round(statistics.median(rates), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--new-tokens", type=int, default=96)
    parser.add_argument("--run", default=None, help="A trained run (default: a random LoRA on the base model).")
    parser.add_argument("--engines", default="anchor,fintune,reference")
    parser.add_argument("--child", nargs=2, metavar=("ENGINE", "ADAPTER"), help=argparse.SUPPRESS)
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "chat_decode.json"))
    args = parser.parse_args()
    if args.child:
        engine, adapter = args.child
        print(json.dumps(_child(engine, None if adapter == "-" else adapter, args.runs, args.new_tokens)))
        return
    adapter = _adapter_for(args.run)
    rows = []
    for model, which in (("base", "-"), ("tuned", adapter)):
        for engine in args.engines.split(","):
            out = subprocess.run([sys.executable, __file__, "--child", engine, which, "--runs", str(args.runs),
                                  "--new-tokens", str(args.new_tokens)], capture_output=True, text=True, check=True)
            rows.append({"model": model, "engine": engine, **json.loads(out.stdout.strip().splitlines()[-1])})
    for row in rows:
        anchor = next(r for r in rows if r["model"] == row["model"] and r["engine"] == "anchor")
        row["x_anchor"] = round(row["tok_s"] / anchor["tok_s"], 2)
    print(f"{'model':<6} {'engine':<10} {'TTFT ms':>8} {'tok/s':>7} {'x anchor':>9}")
    for r in rows:
        print(f"{r['model']:<6} {r['engine']:<10} {r['ttft_ms']:>8} {r['tok_s']:>7} {r['x_anchor']:>9}")
    base_ttft = next(r["ttft_ms"] for r in rows if r["model"] == "base" and r["engine"] == "fintune")
    tuned_ttft = next(r["ttft_ms"] for r in rows if r["model"] == "tuned" and r["engine"] == "fintune")
    print(f"tuned / base first token (fintune): {tuned_ttft / base_ttft:.2f}x")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"rows": rows, "new_tokens": args.new_tokens, "runs": args.runs,
                                          "tuned_over_base_ttft": round(tuned_ttft / base_ttft, 2)}, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
