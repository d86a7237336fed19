"""Does the advisor's stated confidence mean what it says? A reliability table over held-out goals.

Scores every blind set in ``tests/data/advisor_blind_goals_v*.jsonl`` and the tuning tables of
``tests/test_advisor_goals.py`` (none of them are example goals the classifier trained on) through the user's
path (``Advisor.advise_many``, goal only), buckets the answers by stated confidence and prints the accuracy per
bucket, per set and per deciding path. A clarifying question counts as wrong unless the goal expects one.

    python benchmarks/advisor_reliability.py [--sets v15 v16] [--misses]

Writes ``benchmarks/results/advisor_reliability.json`` (``--out``).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
BUCKETS = ((0.0, 0.6), (0.6, 0.8), (0.8, 0.9), (0.9, 1.01))


def held_out_goals(sets: list[str] | None) -> list[tuple[str, str, str]]:
    """(goal, expected outcome, set name) for each held-out goal."""
    from tests.test_advisor_blind import blind_rows, blind_set_names
    from tests.test_advisor_goals import TUNING_GOALS

    names = sets or [n for n in blind_set_names()] + ["tuning"]
    rows = []
    for name in names:
        if name == "tuning":
            rows += [(g, want, "tuning") for g, want in TUNING_GOALS]
        else:
            rows += [(r["goal"], r["approach"], name) for r in blind_rows((name,))]
    return rows


def main(argv=None) -> int:
    from advisor import Advisor
    from fintune.hardware import Machine

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", nargs="*", help="blind set names (e.g. v15 v16) and/or 'tuning'; default: all")
    ap.add_argument("--misses", action="store_true")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "advisor_reliability.json")
    args = ap.parse_args(argv)

    rows = held_out_goals(args.sets)
    recs = Advisor(machine=Machine(ram_gib=24, cpu_cores=2), use_tokenizer=False).advise_many([(g, None) for g, _, _ in rows])
    results = []
    for (goal, want, name), rec in zip(rows, recs):
        got = "clarify" if rec.needs_clarification else rec.approach
        results.append({"set": name, "goal": goal, "want": want, "got": got, "ok": got == want,
                        "confidence": rec.confidence, "decided_by": rec.evidence.get("decided_by")})

    def table(key) -> dict:
        groups = defaultdict(list)
        for r in results:
            groups[key(r)].append(r["ok"])
        return {k: {"goals": len(v), "right": sum(v), "accuracy": round(sum(v) / len(v), 3)} for k, v in sorted(groups.items())}

    bucket = lambda r: next(f"{lo:.1f}–{min(hi, 1.0):.1f}" for lo, hi in BUCKETS if lo <= r["confidence"] < hi)  # noqa: E731
    out = {"goals": len(results), "accuracy": round(sum(r["ok"] for r in results) / len(results), 4),
           "by_confidence": table(bucket), "by_set": table(lambda r: r["set"]), "by_path": table(lambda r: r["decided_by"]),
           "high_confidence": table(lambda r: "≥ 0.8" if r["confidence"] >= 0.8 else "< 0.8"),
           "mean_confidence": {b: round(sum(r["confidence"] for r in results if bucket(r) == b) /
                                        max(1, sum(1 for r in results if bucket(r) == b)), 3)
                               for b in table(bucket)}}
    for title, key in (("stated confidence", "by_confidence"), ("confidence", "high_confidence"), ("set", "by_set"),
                       ("decided by", "by_path")):
        print(f"\n{title:<20}{'goals':>7}{'right':>7}{'accuracy':>10}")
        for k, v in out[key].items():
            print(f"{k:<20}{v['goals']:>7}{v['right']:>7}{v['accuracy']:>10.1%}")
    print(f"\nall {out['goals']} goals: {out['accuracy']:.1%}")
    if args.misses:
        for r in results:
            if not r["ok"]:
                print(f"  {r['set']:<7} want {r['want']:<8} got {r['got']:<8} {r['confidence']:.2f} {r['goal']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out | {"results": results}, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
