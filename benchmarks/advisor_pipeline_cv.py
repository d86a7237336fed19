"""The whole advisor (stated criteria + goal model + verdict) on example goals of writers it never trained on.

Cross-validation that holds out whole writers: every outside writer's goals (``source`` "blind set N" or
"writer X" in ``advisor/data/anchors.jsonl``) form one group, the groups are dealt into folds, and each fold's
goals are decided by a goal model refit on everything else — the team's own goals always stay in training.
Unlike ``advisor_goals_cv.py`` (the goal classifier alone, random folds), this scores the decision a user gets,
per deciding path, so a change to how criteria and the goal model combine can be judged before a blind set is
spent. The criteria were written against many of these goals, so the absolute figure is optimistic; use it to
compare methods in the same run.

    python benchmarks/advisor_pipeline_cv.py [--folds 6] [--cache /tmp/advisor_emb.pkl] [--misses]

Prints accuracy overall and per path, and writes ``benchmarks/results/advisor_pipeline_cv.json`` (``--out``).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def writer_of(source: str) -> str | None:
    """The outside writer a source names ("blind set 12 (scored once, …)" → "blind set 12"), else None."""
    name = source.split(" (")[0]
    return name if name.startswith(("blind set", "writer")) else None


def main(argv=None) -> int:
    from advisor_goals_cv import cached_embed

    from advisor.anchors import DATA_DIR, anchors
    from advisor.clauses import clause_spans
    from advisor.config import AdvisorConfig
    from advisor.decide import goal_only_outcome
    from advisor.goal_model import facet_phrases, fit
    from advisor.verdict import goal_verdict

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--folds", type=int, default=6)
    ap.add_argument("--cache", type=Path, default=None, help="pickle of text → embedding, reused between runs")
    ap.add_argument("--misses", action="store_true")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "advisor_pipeline_cv.json")
    args = ap.parse_args(argv)

    cfg, embed = AdvisorConfig(), cached_embed(args.cache)
    table = anchors()
    sources = [json.loads(line).get("source", "") for line in (DATA_DIR / "anchors.jsonl").read_text(encoding="utf-8").splitlines()
               if line.strip()]
    writers = [writer_of(s) for s in sources]
    goals, labels = [a.goal for a in table], np.array([a.approach for a in table])
    names = sorted({w for w in writers if w})
    np.random.RandomState(0).shuffle(names)
    fold_of = {w: i % args.folds for i, w in enumerate(names)}
    G, phrases = embed(goals), facet_phrases()
    decided: dict[int, tuple[str, str, str, float]] = {}
    for fold in range(args.folds):
        test = [i for i, w in enumerate(writers) if w and fold_of[w] == fold]
        held_out = set(test)
        train = [i for i in range(len(goals)) if i not in held_out]
        model = fit([goals[i] for i in train], labels[train], phrases, embed)
        for i in test:
            spans = clause_spans(goals[i])
            shares, _, _ = model.read(goals[i], G[i], spans, embed(spans))
            alone = goal_only_outcome(shares, float((G[train] @ G[i]).max()), cfg)
            v = goal_verdict(goals[i], shares, alone)
            decided[i] = (v.approach, alone, v.decided_by, v.confidence)
        print(f"fold {fold + 1}/{args.folds}: {len(test)} goals", file=sys.stderr)

    right = {i: d[0] == labels[i] for i, d in decided.items()}
    by_path: dict[str, list[bool]] = defaultdict(list)
    for i, d in decided.items():
        by_path[d[2]].append(right[i])
    confident = [right[i] for i, d in decided.items() if d[3] >= 0.8]
    out = {"goals": len(decided), "writers": len(names), "folds": args.folds,
           "accuracy": round(float(np.mean(list(right.values()))), 4),
           "goal_model_alone": round(float(np.mean([d[1] == labels[i] for i, d in decided.items()])), 4),
           "confidence_at_least_0.8": {"goals": len(confident), "right": int(sum(confident))},
           "by_path": {p: {"goals": len(v), "right": int(sum(v))} for p, v in sorted(by_path.items())}}
    print(f"{'decided by':<22}{'goals':>7}{'accuracy':>10}")
    for path, hits in sorted(by_path.items()):
        print(f"{path:<22}{len(hits):>7}{np.mean(hits):>10.1%}")
    print(f"{'all':<22}{len(decided):>7}{out['accuracy']:>10.1%}   (goal model alone {out['goal_model_alone']:.1%}; "
          f"{len(names)} writers held out in {args.folds} folds; confidence ≥ 0.8 right {sum(confident)}/{len(confident)})")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    if args.misses:
        for i, d in sorted(decided.items()):
            if not right[i]:
                print(json.dumps({"goal": goals[i], "want": str(labels[i]), "got": d[0], "decided_by": d[2], "writer": writers[i]}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
