"""Retrieval benchmark: index build time, query latency and recall, dense-only vs hybrid.

Runs on the built-in glossary, then on built-in + FIBO + WordNet finance (read from ../shared/data, never
copied). Questions are generated from the glossaries themselves:

* term        "What is {term}?", "What does {term} mean?", "Define {term}.", "{term}"
* synonym     "What does {synonym} stand for?", "What is {synonym}?", "{synonym}"
* definition  "What do you call {first clause of the definition, lightly reworded}?"

A question counts as answered when a hit's normalised term equals the entry's term (several sources may
define the same term; any of them is right). Dense-only = cosine of the raw question's embedding; hybrid =
the product path (question scaffolding stripped, + exact term/synonym matching). Latency is measured per
single ``Glossary.search`` call with the query cache cleared, so every free-text question pays for the encoder.

    python benchmarks/retrieval.py            # full run (FIBO import embeds ~6k entries: minutes on 2 cores)
    python benchmarks/retrieval.py --quick    # smaller samples
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rag import Glossary  # noqa: E402
from rag.encoder import Encoder  # noqa: E402
from rag.text import norm  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
OFF_TOPIC = [
    "What's the weather in Paris tomorrow?", "Who is Taylor Swift?", "recipe for banana bread", "How do I fix a flat bicycle tyre?",
    "What is the capital of Australia?", "Who won the 1998 football world cup?", "How tall is Mount Everest?",
    "What is photosynthesis?", "Translate good morning into Spanish", "How many legs does a spider have?",
    "What is the boiling point of water?", "Best hiking trails in Colorado", "How do I train a puppy to sit?",
    "Who painted the Mona Lisa?", "What is a black hole?", "How do you knit a scarf?", "When did the Roman Empire fall?",
    "What does a cardiologist do?", "How to grow tomatoes on a balcony", "What is the speed of light?",
]
TERM_TEMPLATES = ["What is {}?", "What does {} mean?", "Define {}.", "{}"]
SYN_TEMPLATES = ["What does {} stand for?", "What is {}?", "{}"]
DEF_TEMPLATES = ["What do you call {}?", "Which term means {}?", "What is the word for {}?"]
REWORD = {
    "company": "firm", "companies": "firms", "firm": "company", "shows": "indicates", "measures": "gauges", "uses": "employs",
    "large": "big", "small": "little", "total": "overall", "buying": "purchasing", "buy": "purchase", "before": "prior to",
    "after": "following", "money": "funds", "person": "individual", "usually": "typically", "often": "frequently",
    "quickly": "rapidly", "amount": "sum", "paid": "settled", "owns": "holds", "gives": "provides", "set": "fixed",
}


def paraphrase(entry) -> str | None:
    """First clause of the definition, term removed, a few words swapped for synonyms, at most 18 words."""
    text = re.split(r"(?<=[.;])\s|\s\(\d\)\s", entry.definition.removeprefix("(1) "))[0].rstrip(".;")
    text = re.sub(re.escape(entry.term), "it", text, flags=re.IGNORECASE)
    words = [REWORD.get(w.lower(), w) for w in text.split()]
    if len(words) < 4:
        return None
    words = words[:18]
    words[0] = words[0][0].lower() + words[0][1:]
    return " ".join(words)


def questions(entries, n_term: int, n_syn: int, n_def: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    pool = list(entries)
    rng.shuffle(pool)
    out: list[dict] = []
    for i, e in enumerate(pool[:n_term]):
        out.append({"type": "term", "q": TERM_TEMPLATES[i % 4].format(e.term), "target": norm(e.term)})
    with_syn = [e for e in pool if e.synonyms]
    for i, e in enumerate(with_syn[:n_syn]):
        out.append({"type": "synonym", "q": SYN_TEMPLATES[i % 3].format(rng.choice(e.synonyms)), "target": norm(e.term)})
    defs = [(e, p) for e in pool if (p := paraphrase(e))]
    for i, (e, p) in enumerate(defs[:n_def]):
        out.append({"type": "definition", "q": DEF_TEMPLATES[i % 3].format(p), "target": norm(e.term)})
    return out


def quality(glossary: Glossary, qs: list[dict], mode: str) -> dict:
    results = glossary.search_many([q["q"] for q in qs], 10, mode=mode, threshold=-10)
    by_type: dict[str, list[int | None]] = {}
    for q, hits in zip(qs, results):
        rank = next((i for i, h in enumerate(hits, 1) if norm(h.term) == q["target"]), None)
        by_type.setdefault(q["type"], []).append(rank)
        by_type.setdefault("all", []).append(rank)
    return {t: {"n": len(r), "recall@1": sum(x == 1 for x in r) / len(r), "recall@5": sum(x is not None and x <= 5 for x in r) / len(r),
                "mrr": sum(1 / x for x in r if x) / len(r)} for t, r in by_type.items()}


def latency(glossary: Glossary, qs: list[dict], mode: str, n: int) -> dict:
    glossary._query_cache.clear()
    sample = qs[:: max(1, len(qs) // n)][:n]
    times: dict[str, list[float]] = {}
    for q in sample:
        started = time.perf_counter()
        glossary.search(q["q"], 5, mode=mode)
        ms = (time.perf_counter() - started) * 1000
        times.setdefault(q["type"], []).append(ms)
        times.setdefault("all", []).append(ms)
    return {t: {"n": len(v), "p50_ms": statistics.median(v), "p95_ms": sorted(v)[max(0, int(len(v) * 0.95) - 1)]} for t, v in times.items()}


def no_answer_rate(glossary: Glossary, mode: str) -> float:
    return sum(not hits for hits in glossary.search_many(OFF_TOPIC, 5, mode=mode)) / len(OFF_TOPIC)


def evaluate(name: str, glossary: Glossary, qs: list[dict], n_latency: int) -> dict:
    out = {"entries": len(glossary), "questions": len(qs)}
    for mode in ("dense", "hybrid"):
        out[mode] = {"quality": quality(glossary, qs, mode), "latency": latency(glossary, qs, mode, n_latency),
                     "off_topic_no_answer_rate": no_answer_rate(glossary, mode)}
    print(f"  evaluated {name}: {len(qs)} questions", file=sys.stderr)
    return out


def table(results: dict) -> str:
    lines = [f"{'corpus':<22}{'mode':<8}{'type':<12}{'n':>5}{'R@1':>7}{'R@5':>7}{'MRR':>7}{'p50 ms':>9}{'p95 ms':>9}"]
    for corpus, res in results["corpora"].items():
        for mode in ("dense", "hybrid"):
            for qtype in ("term", "synonym", "definition", "all"):
                q, lat = res[mode]["quality"].get(qtype), res[mode]["latency"].get(qtype, {})
                if q is None:
                    continue
                lines.append(f"{corpus:<22}{mode:<8}{qtype:<12}{q['n']:>5}{q['recall@1']:>7.3f}{q['recall@5']:>7.3f}{q['mrr']:>7.3f}"
                             f"{lat.get('p50_ms', float('nan')):>9.2f}{lat.get('p95_ms', float('nan')):>9.2f}")
            lines.append(f"{'':<22}{mode:<8}off-topic questions with no answer: {res[mode]['off_topic_no_answer_rate']:.0%}")
        lines.append(f"{'':<22}entries {res['entries']}, build {res['build_s']:.1f}s, open {res['open_s'] * 1000:.0f} ms")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="Smaller question samples.")
    parser.add_argument("--shared", type=Path, default=SHARED, help="Folder holding fibo/ and wordnet_finance/.")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "retrieval.json")
    args = parser.parse_args(argv)
    n = 120 if args.quick else 400
    n_latency = 60 if args.quick else 200
    results: dict = {"machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version(),
                                 "loadavg_start": os.getloadavg() if hasattr(os, "getloadavg") else None}, "corpora": {}}
    with tempfile.TemporaryDirectory(prefix="fintune-bench-") as tmp:
        root = Path(tmp) / "kb"
        started = time.perf_counter()
        Encoder.shared().dim  # load the model first: build time below is embedding + indexing only
        results["encoder_load_s"] = time.perf_counter() - started
        started = time.perf_counter()
        Glossary.open(root)
        build_s = time.perf_counter() - started
        started = time.perf_counter()
        glossary = Glossary.open(root)
        open_s = time.perf_counter() - started
        builtin_qs = questions(glossary.entries(), n, n, n)
        res = evaluate("builtin", glossary, builtin_qs, n_latency)
        results["corpora"]["builtin"] = res | {"build_s": build_s, "open_s": open_s}

        files = [args.shared / "fibo" / "fibo_glossary_all.jsonl", args.shared / "wordnet_finance" / "wordnet_finance_glossary.jsonl"]
        if all(f.exists() for f in files):
            started = time.perf_counter()
            reports = [glossary.import_file(f).to_dict() for f in files]
            import_s = time.perf_counter() - started
            started = time.perf_counter()
            glossary = Glossary.open(root)
            open_s = time.perf_counter() - started
            all_qs = questions(glossary.entries(), n, n, n, seed=1)
            res = evaluate("builtin+fibo+wordnet", glossary, all_qs, n_latency)
            results["corpora"]["builtin+fibo+wordnet"] = res | {"build_s": import_s, "open_s": open_s, "imports": reports}
        else:
            print(f"skipping FIBO/WordNet: not found under {args.shared}", file=sys.stderr)
    results["machine"]["loadavg_end"] = os.getloadavg() if hasattr(os, "getloadavg") else None
    print(table(results))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2), encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
