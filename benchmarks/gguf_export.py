"""The GGUF export, run for real in llama.cpp's own chat API, against FinTune's reference on the same questions.

``fintune export RUN --gguf --out DIR`` (the user's command, default tensor type) writes ``<name>.gguf`` and an
Ollama ``Modelfile``. Held-out tweets (the report split no run trains on) then go to llama-cpp-python's
``Llama.create_chat_completion`` on that file, which formats them with the chat template stored in the GGUF, with
the Modelfile's SYSTEM text as the system message (what an Ollama user gets), greedy, 16 tokens. The same
conversations go to FinTune's reference engine (transformers + PEFT, adapter unmerged) in a child process.
Reports accuracy of each and how often the two answers are identical; writes benchmarks/results/gguf_export.json.

    .venv/bin/python benchmarks/gguf_export.py --run RUN [--rows 200] [--gguf-type f16]

RUN: a finished tweet-sentiment classification run (see benchmarks/vllm_export.py for how to make one).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from benchmarks.tweet_splits import LABEL_NAMES, read_rows, split_rows  # noqa: E402
from benchmarks.vllm_export import FREE, _reference_answers  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True, help="A finished tweet-sentiment classification run (id, prefix or name).")
    parser.add_argument("--rows", type=int, default=200, help="Held-out report rows asked to both engines.")
    parser.add_argument("--gguf-type", default=None, help="Passed to `fintune export --gguf-type` (default: the export's).")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "gguf_export.json"))
    args = parser.parse_args()
    from llama_cpp import Llama

    from fintune.native_engine import physical_cores
    from trainer.metrics import map_to_label
    from trainer.registry import find_run

    run = find_run(args.run)
    work = Path(tempfile.mkdtemp(prefix="fintune-gguf-"))
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "fintune", "export", run.id, "--gguf", "--out", str(work),
                    *(["--gguf-type", args.gguf_type] if args.gguf_type else [])], cwd=REPO, check=True)
    export_s = time.perf_counter() - started
    gguf = next(work.glob("*.gguf"))
    system = re.search(r'^SYSTEM """(.*?)"""', (work / "Modelfile").read_text(), re.S | re.M)
    rows = split_rows(read_rows())["report"][: args.rows]
    gold = [LABEL_NAMES[r["label"]] for r in rows]
    conversations = [([{"role": "system", "content": system.group(1)}] if system else []) + [{"role": "user", "content": r["text"]}]
                     for r in rows]

    llm = Llama(str(gguf), n_ctx=1024, n_threads=physical_cores(), verbose=False)
    started = time.perf_counter()
    native = [llm.create_chat_completion(messages=c, temperature=0, max_tokens=FREE.max_new_tokens, repeat_penalty=1.0)
              ["choices"][0]["message"]["content"].strip() for c in conversations]
    native_s = time.perf_counter() - started
    del llm
    reference = _reference_answers(run.id, conversations)

    def accuracy(answers: list[str]) -> float:  # answers mapped to labels as `fintune eval --answers generate` does
        return round(sum(map_to_label(a, run.labels) == g for a, g in zip(answers, gold)) / len(gold), 3)

    result = {"run": run.name, "gguf": gguf.name, "gguf_mb": round(gguf.stat().st_size / 2**20, 1), "export_s": round(export_s, 1),
              "system": system.group(1) if system else None, "rows": len(rows),
              "llama_cpp": {"accuracy": accuracy(native), "seconds": round(native_s, 1)},
              "reference": {"accuracy": accuracy(reference)},
              "identical": sum(a == b for a, b in zip(native, reference)),
              "differing": [{"text": r["text"], "llama_cpp": a, "reference": b} for r, a, b in zip(rows, native, reference) if a != b][:20]}
    print(f"run {run.name}: {gguf.name} ({result['gguf_mb']} MB) exported in {result['export_s']} s; Modelfile SYSTEM {result['system']!r}")
    print(f"{len(rows)} held-out tweets, greedy {FREE.max_new_tokens} tokens   accuracy")
    print(f"  llama.cpp chat API on the GGUF   {result['llama_cpp']['accuracy']:>8}")
    print(f"  transformers + PEFT (reference)  {result['reference']['accuracy']:>8}")
    print(f"  identical answers: {result['identical']} / {len(rows)}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
