"""K-fold cross-validation of the advisor's goal classifier over its own labelled example goals.

Each fold refits the whole classifier (readout, both axes, stacker with its inner out-of-fold features) on
the other folds and scores the held-out goals with the same goal-only decision rule as ``Advisor`` (vague
band / near-tie → "clarify"; the "unlike every example" check uses the training folds' anchors only).

    python benchmarks/advisor_goals_cv.py [--folds 5] [--repeats 1] [--cache /tmp/advisor_emb.pkl] [--misses]

Prints a table per class and writes the numbers to ``benchmarks/results/advisor_goals_cv.json`` (``--out``).
"""

from __future__ import annotations

import argparse
import json
import pickle
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def cached_embed(path: Path | None):
    from advisor.embed import embed

    memo = pickle.loads(path.read_bytes()) if path and path.exists() else {}

    def fn(texts):
        todo = [t for t in dict.fromkeys(texts) if t not in memo]
        if todo:
            memo.update(zip(todo, embed(todo)))
            if path:
                path.write_bytes(pickle.dumps(memo))
        return np.stack([memo[t] for t in texts])

    return fn


def main(argv=None) -> int:
    from sklearn.model_selection import StratifiedKFold

    from advisor.anchors import anchors
    from advisor.config import AdvisorConfig
    from advisor.decide import goal_only_outcome
    from advisor.clauses import clause_spans
    from advisor.goal_model import facet_phrases, fit

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--cache", type=Path, default=None, help="pickle of text → embedding, reused between runs")
    ap.add_argument("--misses", action="store_true")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "advisor_goals_cv.json")
    args = ap.parse_args(argv)

    cfg = AdvisorConfig()
    embed = cached_embed(args.cache)
    table = anchors()
    goals = [a.goal for a in table]
    labels = np.array([a.approach for a in table])
    want = np.where(labels == "vague", "clarify", labels)
    phrases = facet_phrases()
    G = embed(goals)
    accs, misses = [], []
    per_class: dict[str, list[bool]] = {}
    for rep in range(args.repeats):
        hits = np.zeros(len(goals), dtype=bool)
        for tr, te in StratifiedKFold(args.folds, shuffle=True, random_state=rep).split(labels, labels):
            m = fit([goals[i] for i in tr], labels[tr], phrases, embed)
            for i in te:
                spans = clause_spans(goals[i])
                shares, _, _ = m.read(goals[i], G[i], spans, embed(spans))
                top_sim = float((G[tr] @ G[i]).max())
                got = goal_only_outcome(shares, top_sim, cfg)
                hits[i] = got == want[i]
                per_class.setdefault(str(want[i]), []).append(bool(hits[i]))
                if not hits[i] and rep == 0:
                    misses.append({"goal": goals[i], "want": str(want[i]), "got": got})
        accs.append(float(hits.mean()))
    out = {"goals": len(goals), "folds": args.folds, "repeats": args.repeats, "accuracy": round(float(np.mean(accs)), 4),
           "per_repeat": [round(a, 4) for a in accs],
           "per_class": {k: round(float(np.mean(v)), 3) for k, v in sorted(per_class.items())}}
    print(f"{'class':<10}{'goals':>7}{'accuracy':>10}")
    for label, hits_of_class in sorted(per_class.items()):
        print(f"{label:<10}{len(hits_of_class) // args.repeats:>7}{np.mean(hits_of_class):>10.1%}")
    print(f"{'all':<10}{len(goals):>7}{out['accuracy']:>10.1%}   ({args.folds}-fold CV, {args.repeats} repeat(s))")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    if args.misses:
        for row in misses:
            print(json.dumps(row))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
