"""`fintune advise "GOAL" [--data FILE] [--json]` and `fintune advise --batch FILE.jsonl`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from advisor.errors import AdvisorError


def register(sub) -> None:
    p = sub.add_parser("advise", help="Recommend RAG, fine-tuning, both or a prompt for a goal; writes a training plan.",
                       description="Recommend RAG, fine-tuning, both or a plain prompt for GOAL, with reasons and (for "
                                   "fine-tuning) a TrainPlan sized to this machine.")
    p.add_argument("goal", nargs="?", help="What the model should do, in your words (quote it).")
    p.add_argument("--data", help="Optional input→output file (CSV/TSV/JSONL/JSON/Parquet) to profile.")
    p.add_argument("--json", action="store_true", help="Print JSON (schema in docs/advisor.md) instead of text.")
    p.add_argument("--batch", help="JSONL file: one {\"goal\": ..., \"data\": optional path} per line; writes one JSON result per line.")
    p.add_argument("--out", help="With --batch: write results here instead of stdout.")
    p.add_argument("--base-model", help="Base model to plan for (default: the built-in SmolLM2-135M-Instruct).")
    p.add_argument("--time-budget", type=float, default=None, metavar="MIN",
                   help="Longest training time you accept, in minutes (default 30; 0 = no limit). The plan trains fewer epochs or a sample of the rows to fit, and says which.")
    p.add_argument("--plan-out", help="Also write the plan (when there is one) to this JSON file for `fintune train`.")
    p.set_defaults(func=cmd_advise)


def _read_batch(path: str) -> list[tuple[str, str | None]]:
    items = []
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise AdvisorError(f"Could not read batch file {path}: {exc}. Pass a JSONL file with one {{\"goal\": ...}} per line.") from exc
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            goal = row["goal"]
        except (ValueError, KeyError, TypeError) as exc:
            raise AdvisorError(f"{path} line {n} is not a JSON object with a \"goal\" ({exc}). Write e.g. "
                               '{"goal": "Classify headlines", "data": "rows.csv"}.') from exc
        data = row.get("data")
        if data and not Path(data).is_absolute():
            data = str((Path(path).parent / data)) if not Path(data).exists() else data
        items.append((goal, data))
    return items


def cmd_advise(args: argparse.Namespace) -> int:
    from advisor.decide import Advisor
    from advisor.render import to_text

    advisor = Advisor(base_model=args.base_model, time_budget_min=args.time_budget)
    if args.batch:
        if args.goal:
            raise AdvisorError("Pass either a GOAL or --batch FILE, not both.")
        items = _read_batch(args.batch)
        out = open(args.out, "w", encoding="utf-8") if args.out else sys.stdout
        try:
            for (goal, data), rec in zip(items, _advise_each(advisor, items)):
                out.write(json.dumps(rec, ensure_ascii=False) + "\n")
        finally:
            if args.out:
                out.close()
        return 0
    if not args.goal:
        raise AdvisorError('Give a goal, e.g. fintune advise "Classify financial news headlines as bullish, bearish or neutral".')
    rec = advisor.advise(args.goal, args.data)
    if args.plan_out and rec.plan is not None:
        rec.plan.save(args.plan_out)
    print(json.dumps(rec.to_dict(), indent=2, ensure_ascii=False) if args.json else to_text(rec))
    return 0


def _advise_each(advisor, items):
    """Results in input order; a row with a bad data file gets {"goal", "error"} instead of stopping the batch."""
    from fintune.errors import FinTuneError

    try:
        return [r.to_dict() for r in advisor.advise_many(items)]
    except FinTuneError:
        out = []
        for goal, data in items:
            try:
                out.append(advisor.advise(goal, data).to_dict())
            except FinTuneError as exc:
                out.append({"goal": goal, "data": data, "error": str(exc)})
        return out
