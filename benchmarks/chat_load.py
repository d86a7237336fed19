"""N concurrent chat users against a real ``fintune serve`` (gradio_client, the public /chat endpoint).

Starts the server like a user would, then for each N in --users: N clients ask at once (greedy,
--new-tokens each). Reports answered, errors, p50/p95 latency and aggregate tok/s (answer tokens / wall
time), and the aggregate's ratio to a single user's. Writes benchmarks/results/chat_load.json.

    .venv/bin/python benchmarks/chat_load.py [--users 1,20] [--new-tokens 64] [--engine auto|transformers]
                                             [--repeat 3] [--glossary] [--run RUN]

--run chats with a fine-tuned run instead of the base model (a classification run answers held-out tweets with a
label and its probability: compare answers/s). --repeat runs each wave that many times and reports the one with the median throughput (a shared 2-core VM
swings ±15 % run to run). --glossary asks through the grounded (RAG) answer path, whose prompts carry the
retrieved definitions (~500 tokens instead of ~35).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
QUESTIONS = ["What is EBITDA?", "What is a bond yield?", "What does a letter of credit do?", "What is working capital?",
             "Explain what a dividend is.", "What is a stock split?", "What is inflation?", "What is a hedge fund?"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(engine: str, log: Path):
    port = _free_port()
    env = {**os.environ, "FINTUNE_CHAT_ENGINE": engine, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "fintune", "serve", "--port", str(port)], cwd=REPO, env=env,
                            stdout=open(log, "w"), stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.time() + 300
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"fintune serve exited:\n{log.read_text()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proc, f"http://127.0.0.1:{port}/"
        except OSError:
            time.sleep(0.5)
    proc.terminate()
    raise SystemExit("fintune serve did not start in 300 s")


def run_wave(users: int, answer, tokenizer) -> dict:
    """``users`` threads each call ``answer(i)`` once, at the same time (any server): answered, errors, latency
    quantiles, aggregate answer tokens per second of wall time, and this process's share of the CPUs."""
    latencies, tokens, errors = [], [], []

    def ask(i: int) -> None:
        started = time.perf_counter()
        try:
            text = answer(i)
            latencies.append(time.perf_counter() - started)
            tokens.append(len(tokenizer(text, add_special_tokens=False)["input_ids"]))
        except Exception as exc:  # noqa: BLE001 - counted, reported
            errors.append(f"{type(exc).__name__}: {exc}")

    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    threads = [threading.Thread(target=ask, args=(i,)) for i in range(users)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    client_cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    quantiles = statistics.quantiles(latencies, n=20) if len(latencies) > 1 else latencies * 19
    return {"users": users, "answered": len(latencies), "errors": len(errors), "first_error": errors[0] if errors else None,
            "p50_s": round(statistics.median(latencies), 2) if latencies else None,
            "p95_s": round(quantiles[18], 2) if latencies else None, "wall_s": round(wall, 1),
            "aggregate_tok_s": round(sum(tokens) / wall, 1), "answers_per_s": round(len(latencies) / wall, 2),
            "client_cpu_share": round(client_cpu / wall / max(1, len(os.sched_getaffinity(0))), 2)}


def _wave(url: str, users: int, new_tokens: int, tokenizer, glossary: bool = False, run: str = "",
          questions: list[str] = QUESTIONS) -> dict:
    from gradio_client import Client

    clients = [Client(url, verbose=False) for _ in range(users)]
    return run_wave(users, lambda i: clients[i].predict(questions[i % len(questions)], [], run, glossary, 0.0, new_tokens,
                                                        api_name="/chat"), tokenizer)


def median_wave(wave, users: int, repeat: int) -> dict:
    """``wave(users)`` run ``repeat`` times; the one with the median throughput, with every wave's tok/s."""
    waves = sorted((wave(users) for _ in range(repeat)), key=lambda w: w["aggregate_tok_s"])
    return {**waves[len(waves) // 2], "waves_tok_s": [w["aggregate_tok_s"] for w in waves]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", default="1,20")
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--engine", default="auto", choices=("auto", "llama.cpp", "transformers"))
    parser.add_argument("--repeat", type=int, default=3, help="waves per user count; the median-throughput one is reported")
    parser.add_argument("--glossary", action="store_true", help="ask through the grounded (RAG) answer path")
    parser.add_argument("--run", default="", help="chat with this run (id or name) instead of the base model; a "
                        "classification run is asked held-out tweets and answers with a label (see answers/s)")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "chat_load.json"))
    args = parser.parse_args()
    from fintune.models import load_tokenizer

    tokenizer = load_tokenizer(None)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    proc, url = _serve(args.engine, Path(args.out).with_suffix(".server.log"))
    try:
        questions = QUESTIONS
        if args.run:
            from trainer.registry import find_run

            if find_run(args.run).task == "classification":
                from benchmarks.tweet_splits import read_rows, split_rows

                questions = [r["text"] for r in split_rows(read_rows())["report"][:40]]
        _wave(url, 1, 8, tokenizer, args.glossary, args.run, questions)  # warm-up: model load, the one-time GGUF conversion, the index
        rows = []
        for n in args.users.split(","):
            rows.append(median_wave(lambda users: _wave(url, users, args.new_tokens, tokenizer, args.glossary, args.run, questions),
                                    int(n), args.repeat))
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    single = rows[0]["aggregate_tok_s"]
    print(f"engine={args.engine}  run={args.run or 'base'}  {args.new_tokens} new tokens each  glossary={args.glossary}  median of {args.repeat}")
    print(f"{'users':>5} {'answered':>8} {'errors':>6} {'p50 s':>6} {'p95 s':>6} {'agg tok/s':>9} {'answers/s':>9} {'x 1 user':>8}")
    for r in rows:
        r["x_single"] = round(r["aggregate_tok_s"] / single, 2)
        print(f"{r['users']:>5} {r['answered']:>8} {r['errors']:>6} {r['p50_s']!s:>6} {r['p95_s']!s:>6} {r['aggregate_tok_s']:>9} "
              f"{r['answers_per_s']:>9} {r['x_single']:>8}")
    Path(args.out).write_text(json.dumps({"engine": args.engine, "run": args.run, "new_tokens": args.new_tokens, "glossary": args.glossary,
                                          "repeat": args.repeat, "rows": rows}, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
