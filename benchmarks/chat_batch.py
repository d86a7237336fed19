"""The batching engine alone: N concurrent chats through ``NativeEngine``, per-slot KV streams against one shared pool.

The serving path's llama.cpp engine (``fintune/native_engine.py``) on the GGUF that ``fintune serve`` serves, with
no web server or client in the way, so the numbers are the engine's. Each configuration runs in its own process
(engines in one process fight over threads), interleaved, --runs times; the median run is reported.

Workloads (greedy, --new-tokens answer tokens):
- short: one question (~35 prompt tokens);
- mixed: the same questions with answers of 1/4, 3/4, 5/4 and 7/4 of --new-tokens (one user: the full length), so
  slots free up at different times and busy slots have gaps between them;
- long:  a chat whose earlier turns are real FiQA questions and answers (``../shared/data/fiqa``), ~500 prompt tokens.

Reports aggregate tok/s (answer tokens / wall time, prompt processing included), decode tok/s (answer tokens after
the last user's first token / the time from then to the end; all users decoding together), p95 time to first token,
and the aggregate's ratio to one user's. Writes benchmarks/results/chat_batch.json.

    .venv/bin/python benchmarks/chat_batch.py [--users 1,20] [--new-tokens 64] [--runs 3] [--workloads short,mixed,long]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
QUESTIONS = ["What is EBITDA?", "What is a bond yield?", "What does a letter of credit do?", "What is working capital?",
             "Explain what a dividend is.", "What is a stock split?", "What is inflation?", "What is a hedge fund?"]
FIQA = REPO.parent / "shared" / "data" / "fiqa" / "fiqa_qa.jsonl"
KV_LAYOUTS = {"per-slot": True, "shared": False}  # NativeEngine(per_slot_kv=...)
LONG_HISTORY_TOKENS = 450


def _prompts(tokenizer, workload: str) -> list[list[int]]:
    def encode(messages):
        ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True)
        return list(ids["input_ids"] if isinstance(ids, dict) or hasattr(ids, "keys") else ids)

    if workload != "long":
        return [encode([{"role": "user", "content": q}]) for q in QUESTIONS]
    turns = [json.loads(line) for line in FIQA.read_text().splitlines()[:400]]
    turns = [t for t in turns if 200 < len(t["answer"]) < 1500]
    prompts, k = [], 0
    for question in QUESTIONS:
        history: list[dict] = []
        while len(encode(history + [{"role": "user", "content": question}])) < LONG_HISTORY_TOKENS:
            history += [{"role": "user", "content": turns[k]["question"]}, {"role": "assistant", "content": turns[k]["answer"]}]
            k += 1
        prompts.append(encode(history + [{"role": "user", "content": question}]))
    return prompts


def _child(spec: dict) -> dict:
    """One engine, one process: every user count in turn, after a warm-up answer."""
    from fintune.native_engine import NativeEngine

    engine = NativeEngine(spec["gguf"], slots=spec["slots"], ctx_per_slot=2048, threads=spec["threads"] or None,
                          per_slot_kv=spec["per_slot_kv"])
    prompts, eos, new_tokens = spec["prompts"], set(spec["eos"]), spec["new_tokens"]

    def wave(users: int) -> dict:
        marks: list[list[float]] = [[] for _ in range(users)]
        started = time.perf_counter()

        def ask(i: int) -> None:
            share = (0.25 + (i % 4) * 0.5) if spec["mixed"] and users > 1 else 1.0
            settings = SimpleNamespace(temperature=0.0, top_p=1.0, repetition_penalty=1.0,
                                       max_new_tokens=max(1, round(new_tokens * share)))
            for _ in engine.stream(prompts[i % len(prompts)], settings, eos):
                marks[i].append(time.perf_counter())

        with ThreadPoolExecutor(users) as pool:  # all users at once
            list(pool.map(ask, range(users)))
        wall = time.perf_counter() - started
        tokens = sum(len(m) for m in marks)
        all_started = max(m[0] for m in marks)
        late = sum(1 for m in marks for stamp in m if stamp > all_started)
        span = max(m[-1] for m in marks) - all_started
        ttft = sorted(m[0] - started for m in marks)
        return {"users": users, "tokens": tokens, "wall_s": round(wall, 2), "aggregate_tok_s": round(tokens / wall, 1),
                "decode_tok_s": round(late / span, 1) if span > 0 else None,
                "ttft_p95_s": round(ttft[min(len(ttft) - 1, int(0.95 * len(ttft)))], 2)}

    wave(1)
    return {"rows": [wave(n) for n in spec["users"]]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", default="1,20")
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workloads", default="short,mixed,long")
    parser.add_argument("--layouts", default="per-slot,shared", help=f"KV layouts to compare, of {sorted(KV_LAYOUTS)}")
    parser.add_argument("--threads", type=int, default=0, help="llama.cpp threads; 0 = the app's default")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "chat_batch.json"))
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(json.loads(Path(args.child).read_text()))))
        return

    from fintune.engine import ServingConfig
    from fintune.gguf_export import serving_gguf
    from fintune.models import load_tokenizer

    serving = ServingConfig.from_env()
    gguf = str(serving_gguf(None, None, serving.gguf_type))
    tokenizer = load_tokenizer(None)
    users = [int(n) for n in args.users.split(",")]
    results: dict[tuple[str, str], list[dict]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for run in range(args.runs):
            for workload in args.workloads.split(","):
                for layout in args.layouts.split(","):
                    spec = {"gguf": gguf, "slots": max(serving.slots, max(users)), "threads": args.threads,
                            "per_slot_kv": KV_LAYOUTS[layout], "prompts": _prompts(tokenizer, workload),
                            "eos": [tokenizer.eos_token_id], "new_tokens": args.new_tokens, "mixed": workload == "mixed",
                            "users": users}
                    path = Path(tmp) / "spec.json"
                    path.write_text(json.dumps(spec))
                    done = subprocess.run([sys.executable, __file__, "--child", str(path)], capture_output=True, text=True,
                                          check=True)
                    results.setdefault((workload, layout), []).append(json.loads(done.stdout.strip().splitlines()[-1]))
                    print(f"run {run + 1}/{args.runs} {workload:>5} {layout:>8}: "
                          + "  ".join(f"{r['users']}u {r['aggregate_tok_s']} tok/s" for r in results[(workload, layout)][-1]["rows"]),
                          file=sys.stderr)
    table = []
    for (workload, layout), runs in results.items():
        for i, n in enumerate(users):
            rows = sorted((r["rows"][i] for r in runs), key=lambda r: r["aggregate_tok_s"])
            median = rows[len(rows) // 2]
            table.append({"workload": workload, "kv": layout, **median, "runs_tok_s": [r["aggregate_tok_s"] for r in rows]})
    single = {(r["workload"], r["kv"]): r["aggregate_tok_s"] for r in table if r["users"] == users[0]}
    print(f"GGUF {Path(gguf).name}, {args.new_tokens} new tokens, median of {args.runs} runs")
    print(f"{'workload':>8} {'kv':>8} {'users':>5} {'agg tok/s':>9} {'decode tok/s':>12} {'TTFT p95 s':>10} {'x 1 user':>8}")
    for r in table:
        r["x_single"] = round(r["aggregate_tok_s"] / single[(r["workload"], r["kv"])], 2)
        print(f"{r['workload']:>8} {r['kv']:>8} {r['users']:>5} {r['aggregate_tok_s']:>9} {r['decode_tok_s']!s:>12} "
              f"{r['ttft_p95_s']:>10} {r['x_single']:>8}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"gguf": Path(gguf).name, "new_tokens": args.new_tokens, "runs": args.runs,
                                          "rows": table}, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
