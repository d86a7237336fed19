"""Glossary answer benchmark: are answers faithful to the definition they cite, and honest when there is none?

Questions of four kinds, drawn from the built-in glossary plus FIBO and WordNet finance (imported from
../shared/data into a benchmark-only FINTUNE_HOME with the project's own `fintune kb import`):

* term      "What is {term}?", "Define {term}." ...          (templates from benchmarks/retrieval.py)
* synonym   "What does {abbreviation} stand for?" ...
* reverse   "What do you call {paraphrased definition}?" ...
* oog       out-of-glossary: finance-sounding terms no glossary defines ("What is a {term}?")

Three systems answer every question in one run, greedy, same token budget:

* base      the model alone, no glossary;
* previous  the previous prompt: ``Glossary.search`` -> ``rag.prompting.build_messages`` -> the model;
* answer    the new path, ``rag.answer.answer_question`` (definition first, checked explanation, no-entry).

Model outputs are generated in left-padded batches (``ChatEngine.generate_batch``, greedy) because two
shared CPU cores cannot stream hundreds of answers one by one; the new path replays its batch-generated
explanation through the exact ``answer_question`` code the app runs. Latency (time to first text and total)
is measured separately on a sample through the real streaming path of each system.

Faithfulness (no NLI cross-encoder with bundled weights is on PyPI; packages such as contradict-text fetch
theirs from a model hub at run time, which this project cannot do): an answer is faithful to a definition
when its MiniLM cosine to it is >= 0.6, higher than to every distractor (the other retrieved definitions),
and it names the term (or a synonym). ``faithful`` scores against the right definition, ``cited`` against
the definition the answer cites as [1] (systems without citations: the right one).
Out-of-glossary: ``abstain`` = the answer says there is no entry/definition instead of defining the term.

    python benchmarks/rag_answers.py --smoke            # 8 questions per kind, minutes
    python benchmarks/rag_answers.py --per-kind 50      # the reported run (200 questions; long on a busy CPU)
    python benchmarks/rag_answers.py --split dev        # questions for tuning (never the reported seed)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from retrieval import DEF_TEMPLATES, SYN_TEMPLATES, TERM_TEMPLATES, paraphrase  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
IMPORTS = [SHARED / "fibo" / "fibo_glossary_all.jsonl", SHARED / "wordnet_finance" / "wordnet_finance_glossary.jsonl"]
SEEDS = {"dev": 101, "report": 202}
OOG_TEMPLATES = ["What is {}?", "What does {} mean?", "Define {}.", "What is a {}?"]
# Finance-sounding terms no shipped glossary defines. Alternate items go to the dev and report splits.
OUT_OF_GLOSSARY = [
    "blockchain oracle", "quantum hedging", "reverse dividend cascade", "liquidity mirage index", "carbon yield spread",
    "zombie bond ladder", "moonshot annuity", "stablecoin depeg insurance", "flash loan arbitrage", "tokenized real estate",
    "hyperbolic discounting curve", "rainbow netting", "phantom float", "inverted coupon strip", "shadow dividend",
    "dark liquidity premium", "velocity tax credit", "crypto staking yield", "decentralized exchange", "gas fee",
    "meme stock", "yield farming", "impermanent loss", "rug pull", "NFT royalty", "buy now pay later", "robo-advisor fee drag",
    "green bond premium", "ESG score", "SPAC warrant", "payment for order flow", "zero-day option", "liquid staking token",
    "open banking API", "central bank digital currency", "proof of reserves", "algorithmic stablecoin", "wash trading ratio",
    "gamma squeeze", "short squeeze ratio", "dividend aristocrat", "bitcoin halving", "smart beta tilt", "loss harvesting bot",
    "neobank", "embedded finance", "microcap ETF", "fractional share", "sweep account", "cash stuffing",
]
ABSTAIN = re.compile(r"no (?:glossary )?(?:entry|definition)|not (?:in|covered by) the glossary|glossary (?:has|does) n|"
                     r"(?:do not|don't|does not|doesn't|cannot|can't) (?:know|find|cover|define|contain|provide)|not sure|no information", re.I)
TAU = 0.6


def kb_home(home: Path) -> Path:
    """A benchmark-only FINTUNE_HOME holding built-in + FIBO + WordNet, imported with `fintune kb import`."""
    from fintune.paths import models_dir

    home.mkdir(parents=True, exist_ok=True)
    if not (home / "models").exists():
        (home / "models").symlink_to(models_dir(), target_is_directory=True)
    env = {**os.environ, "FINTUNE_HOME": str(home)}
    stats = subprocess.run([sys.executable, "-m", "fintune", "kb", "stats", "--json"], env=env, capture_output=True, text=True)
    have = json.loads(stats.stdout).get("sources", {}) if stats.returncode == 0 else {}
    for path, source in zip(IMPORTS, ("fibo_glossary_all", "wordnet_finance_glossary")):
        if source not in have:
            print(f"importing {path.name} (minutes: embeds every entry)", file=sys.stderr)
            subprocess.run([sys.executable, "-m", "fintune", "kb", "import", str(path)], env=env, check=True)
    return home


def make_questions(glossary, per_kind: int, seed: int, split: str) -> list[dict]:
    from rag.text import norm

    rng = random.Random(seed)
    pool = glossary.entries()
    rng.shuffle(pool)
    out: list[dict] = []
    for i, e in enumerate(pool[:per_kind]):
        out.append({"kind": "term", "q": TERM_TEMPLATES[i % 3].format(e.term), "entry": e})
    for i, e in enumerate([e for e in pool if e.synonyms][:per_kind]):
        out.append({"kind": "synonym", "q": SYN_TEMPLATES[i % 2].format(rng.choice(e.synonyms)), "entry": e})
    for i, (e, p) in enumerate([(e, p) for e in pool if (p := paraphrase(e))][:per_kind]):
        out.append({"kind": "reverse", "q": DEF_TEMPLATES[i % 3].format(p), "entry": e})
    known = {norm(t) for e in pool for t in (e.term, *e.synonyms)}
    oog = [t for t in OUT_OF_GLOSSARY[(0 if split == "dev" else 1)::2] if norm(t) not in known]
    for i, term in enumerate((oog * (per_kind // max(len(oog), 1) + 1))[:per_kind]):
        out.append({"kind": "oog", "q": OOG_TEMPLATES[(i // len(oog) + i) % len(OOG_TEMPLATES)].format(term), "entry": None})
    return out


class Replay:
    """An engine whose ``stream`` replays answers generated beforehand in batches (same messages -> same text)."""

    def __init__(self, answers: dict[str, str]):
        self.answers = answers

    def stream(self, messages, settings=None, adapter=None):
        yield self.answers[json.dumps(messages)]


def faithfulness(encoder, answer: str, right, cited_def: str | None, distractors: list[str], cited_term: str | None = None) -> dict:
    """Is the answer faithful to the right (and to the cited) definition?

    By meaning: cosine to the definition must reach TAU and beat every other candidate definition, and the answer
    names the term. By containment: an answer that quotes the cited definition verbatim is faithful to it when
    what it adds (the rest of the text) is empty or, scored the same way, closest to that definition; the whole
    answer's cosine would otherwise punish a verbatim quote for its "term: ... [1]" frame and for near-duplicate
    entries (traveler's check / traveller's cheque).
    """
    from rag.text import norm

    cited_def = cited_def or right.definition
    defs = list(dict.fromkeys([right.definition, cited_def, *distractors]))
    vecs = encoder.encode([answer, *defs])
    cos = dict(zip(defs, (vecs[1:] @ vecs[0]).tolist()))

    def wins(target: str, scores: dict[str, float]) -> bool:
        return scores[target] >= TAU and all(scores[target] > c for d, c in scores.items() if d != target)

    names = [norm(right.term)] + [norm(s) for s in right.synonyms]
    named = any(n and re.search(rf"\b{re.escape(n)}\b", norm(answer)) for n in names)
    out = {"cos": cos[right.definition], "faithful": wins(right.definition, cos) and named, "cited": wins(cited_def, cos) and named,
           "quoted": False}
    flat, quote = " ".join(answer.split()), " ".join(cited_def.split())
    at = flat.lower().find(quote.lower())
    if quote and at >= 0:
        rest = flat[:at] + flat[at + len(quote):]
        rest = re.sub(r"\[\d+\]", " ", rest.replace(f"{cited_term}:", " ") if cited_term else rest)
        rest_ok = len(rest.split()) < 3
        if not rest_ok:
            rest_vecs = encoder.encode([rest, *defs])
            rest_ok = wins(cited_def, dict(zip(defs, (rest_vecs[1:] @ rest_vecs[0]).tolist())))
        same_entry = cited_def == right.definition or (cited_term is not None and norm(cited_term) in names)
        out |= {"quoted": True, "cited": rest_ok, "faithful": rest_ok and same_entry}
    return out


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


def latency(systems: dict, sample: list[dict]) -> dict:
    out = {}
    for name, stream in systems.items():
        firsts, totals = [], []
        for q in sample:
            started = time.perf_counter()
            first = None
            for _ in stream(q["q"]):
                first = first or time.perf_counter() - started
            firsts.append(first or time.perf_counter() - started)
            totals.append(time.perf_counter() - started)
        out[name] = {"n": len(sample), "first_p50_s": statistics.median(firsts), "first_max_s": max(firsts),
                     "total_p50_s": statistics.median(totals)}
        print(f"  latency {name}: first {out[name]['first_p50_s']:.2f}s", file=sys.stderr)
    return out


def run(args) -> dict:
    os.environ["FINTUNE_HOME"] = str(kb_home(args.home))
    from fintune.engine import ChatEngine, GenerationSettings
    from rag import Glossary
    from rag.answer import NO_ENTRY, answer_question, answer_stream, plan_answer
    from rag.config import AnswerConfig
    from rag.encoder import Encoder
    from rag.prompting import build_messages, explain_messages

    glossary = Glossary.open()
    questions = make_questions(glossary, args.per_kind, SEEDS[args.split], args.split)
    engine = ChatEngine.shared()
    encoder = Encoder.shared()
    settings = GenerationSettings(temperature=0.0, max_new_tokens=args.max_new_tokens)
    config = AnswerConfig() if args.min_support is None else AnswerConfig(min_support=args.min_support)
    started = time.perf_counter()
    hits = glossary.search_many([q["q"] for q in questions])
    plans = [plan_answer(q["q"], glossary, config) for q in questions]
    batches = {
        "base": [[{"role": "user", "content": q["q"]}] for q in questions],
        "previous": [build_messages(q["q"], h) for q, h in zip(questions, hits)],
    }
    explain = list({json.dumps(explain_messages(p.cited)): explain_messages(p.cited) for p in plans if p.kind == "definition"}.values())
    cache_path = args.out.with_suffix(".cache.json")  # generations survive a crash in scoring: reruns reuse them
    cache = json.loads(cache_path.read_text(encoding="utf-8")) if cache_path.is_file() else {}
    texts = {}
    for name, convs in [*batches.items(), ("answer", explain)]:
        t = time.perf_counter()
        s = settings if name != "answer" else GenerationSettings(temperature=0.0, max_new_tokens=min(args.max_new_tokens, config.explain_tokens))
        keys = [json.dumps([c, s.to_dict()]) for c in convs]
        todo = [c for c, key in zip(convs, keys) if key not in cache]
        for start in range(0, len(todo), args.batch_size):
            chunk = todo[start:start + args.batch_size]
            for conv, text in zip(chunk, engine.generate_batch(chunk, s, batch_size=args.batch_size)):
                cache[json.dumps([conv, s.to_dict()])] = text
            cache_path.parent.mkdir(parents=True, exist_ok=True)
            cache_path.write_text(json.dumps(cache), encoding="utf-8")
            print(f"  {name}: {start + len(chunk)}/{len(todo)} generated ({time.perf_counter() - t:.0f}s)", file=sys.stderr)
        texts[name] = [cache[key] for key in keys]
    # A question that is not about a term gets the model's own answer on the new path: the base conversation.
    replay = Replay({json.dumps(c): t for c, t in [*zip(explain, texts["answer"]), *zip(batches["base"], texts["base"])]})
    answers = [answer_question(q["q"], glossary, replay, settings=settings, config=config) for q in questions]

    rows = []
    for i, q in enumerate(questions):
        row = {"kind": q["kind"], "question": q["q"], "target": q["entry"].term if q["entry"] else None}
        retrieved = [h.definition for h in hits[i]]
        for name in ("base", "previous", "answer"):
            if name == "answer":
                text, cited = answers[i].text, (answers[i].hits[0].definition if answers[i].hits else None)
                cited_term = answers[i].hits[0].term if answers[i].hits else None
                abstained = answers[i].kind == NO_ENTRY
            else:
                text = texts[name][i]
                cited = hits[i][0].definition if name == "previous" and hits[i] else None
                cited_term = hits[i][0].term if name == "previous" and hits[i] else None
                abstained = bool(ABSTAIN.search(text))
            result = {"text": text, "abstained": abstained}
            if q["entry"] is not None:
                distractors = [d for d in retrieved if d != q["entry"].definition and d != cited][:4]
                result |= faithfulness(encoder, text, q["entry"], cited, distractors, cited_term)
                if abstained:  # "no entry for <the question>. Closest terms: <the term>" echoes words, it does not answer
                    result |= {"faithful": False, "cited": False}
            if name == "answer":
                result |= {"answer_kind": answers[i].kind, "explanation_kept": bool(answers[i].explanation),
                           "dropped": answers[i].dropped}
            row[name] = result
        rows.append(row)
    results = {"rows": rows, "seconds": time.perf_counter() - started}

    sample = [q for j, q in enumerate(questions) if j % max(1, len(questions) // args.latency_n) == 0][: args.latency_n]
    results["latency"] = latency({
        "base": lambda q: engine.stream([{"role": "user", "content": q}], settings),
        "previous": lambda q: engine.stream(build_messages(q, glossary.search(q)), settings),
        "answer": lambda q: answer_stream(q, glossary, engine, settings=settings, config=config),
    }, sample)
    results["summary"] = summarise(rows)
    results["config"] = {"answer": config.to_dict(), "rag": glossary.config.to_dict(), "split": args.split, "seed": SEEDS[args.split],
                         "per_kind": args.per_kind, "max_new_tokens": args.max_new_tokens, "entries": len(glossary), "sources": glossary.sources()}
    return results


def summarise(rows: list[dict]) -> dict:
    out: dict = {}
    for name in ("base", "previous", "answer"):
        for kind in ("term", "synonym", "reverse", "in-glossary", "oog"):
            sel = [r[name] for r in rows if r["kind"] == kind or (kind == "in-glossary" and r["kind"] != "oog")]
            if not sel:
                continue
            cell = {"n": len(sel), "abstain": sum(s["abstained"] for s in sel) / len(sel)}
            if kind != "oog":
                cell |= {"faithful": sum(s["faithful"] for s in sel) / len(sel), "cited": sum(s["cited"] for s in sel) / len(sel),
                         "cos": statistics.mean(s["cos"] for s in sel)}
            if name == "answer":
                stated = [s for s in sel if s["answer_kind"] == "definition"]
                cell["explained"] = sum(s["explanation_kept"] for s in stated) / len(stated) if stated else 0.0
                if kind != "oog":
                    cell["stated_cited"] = sum(s["cited"] for s in stated) / len(stated) if stated else 0.0
            out.setdefault(name, {})[kind] = cell
    return out


def table(results: dict) -> str:
    lines = [f"{'system':<10}{'kind':<13}{'n':>4}{'faithful':>10}{'cited':>8}{'cos':>7}{'abstain':>9}{'explained':>11}{'stated->cited':>15}"]
    for name, kinds in results["summary"].items():
        for kind, c in kinds.items():
            f = lambda key, fmt="{:.0%}": fmt.format(c[key]) if key in c else "-"  # noqa: E731
            lines.append(f"{name:<10}{kind:<13}{c['n']:>4}{f('faithful'):>10}{f('cited'):>8}{f('cos', '{:.2f}'):>7}{f('abstain'):>9}{f('explained'):>11}{f('stated_cited'):>15}")
    lines.append("")
    lines.append(f"{'system':<10}{'first text p50':>16}{'first max':>11}{'total p50':>11}   (n={next(iter(results['latency'].values()))['n']})")
    for name, lat in results["latency"].items():
        lines.append(f"{name:<10}{lat['first_p50_s']:>15.2f}s{lat['first_max_s']:>10.2f}s{lat['total_p50_s']:>10.2f}s")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--per-kind", type=int, default=50, help="Questions per kind (4 kinds).")
    parser.add_argument("--smoke", action="store_true", help="8 questions per kind, 4 latency samples: a few minutes.")
    parser.add_argument("--split", choices=sorted(SEEDS), default="report", help="'dev' for tuning, 'report' for the numbers in the docs.")
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--min-support", type=float, default=None, help="Override AnswerConfig.min_support (tune on --split dev only).")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--latency-n", type=int, default=4, help="Questions timed through each system's streaming path.")
    parser.add_argument("--home", type=Path, default=None, help="Benchmark FINTUNE_HOME (default: $FINTUNE_HOME/bench-rag-answers).")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "rag_answers.json")
    args = parser.parse_args(argv)
    if args.smoke:
        args.per_kind, args.latency_n = 8, 2
    if args.home is None:
        from fintune.paths import home

        args.home = home() / "bench-rag-answers"
    results = run(args)
    results["machine"] = {"platform": platform.platform(), "cpus": os.cpu_count(), "loadavg": os.getloadavg()}
    print(table(results))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
