"""The advisor on goals written blind to its method (``tests/data/advisor_blind_goals_v*.jsonl``, see the README there).

Each set was written by someone who never saw the advisor's code, its example goals or the other sets, and
was scored once, on the method of its day. Sets 5–14 were each scored once and then joined the advisor's
example goals (``advisor/data/anchors.jsonl``, ``source`` "blind set N"), as sets 1–4 had before them: goals in
other people's words are what the goal model learns most from. Sets 15–18 were scored once and are kept out of
training as a regression guard; sets 19–32 were scored once, in pairs, each on the method committed before it was
opened, and then joined the examples too. Sets 33–40 were opened only after the method that followed was
committed (four pairs, each scored once on it; 37–40 were written after it was committed) and are the honest
estimate for new goals.
A goal the advisor answers with a clarifying question counts wrong (unless the set expects "clarify").
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
GUARD_SETS = ("v15", "v16", "v17", "v18")
NEW_SETS = ("v33", "v34", "v35", "v36", "v37", "v38", "v39", "v40")
TARGET = 0.95  # the bar for new goals
# Each floor is the score measured on the shipped method, so any regression fails.
# Blind history, each pair scored once before being used: v9 + v10 112/120 (93.3 %, ae5255c), v11 + v12 104/120
# (86.7 %, 99afd8d), v13 + v14 97/120 (80.8 %, 9ccf7ed), v15 + v16 104/120 (86.7 %, 32bee49), v17 + v18 100/119
# (84.0 %, 3532fb5), v19 + v20 108/120 (90.0 %, 37f732e), v21 + v22 110/119 (92.4 %, 14b7593), v23 + v24 115/120
# (95.8 %, 0fd29d6), v25 + v26 112/120 (93.3 %, same method), v27 + v28 112/120 (93.3 %, 066d1e7), v29 + v30
# 111/119 (93.3 %, d610dd5), v31 + v32 113/120 (94.2 %, 1ffb66f); v19–v32 then joined the examples.
# v33–v40: NEW_SETS_SCORE.
# v15–v18 on the method of this commit; v18 lost one goal that set 20 repeated word for word. They scored 204/239
# before sets 5–14, 19–28 and writers A–C joined the examples.
GUARD_SCORE = 231 / 238
# v33 57/58, v34 56/60, v35 57/59, v36 57/60, v37 57/60, v38 58/60, v39 57/60, v40 59/60 = 458/477 (96.0 %), each
# set scored once on commit 4659175. On the same goals through `fintune advise --batch`: 434/477 on 22d3cee (the
# session's start), 441/477 on 1ffb66f; the classical baseline (TF-IDF + logistic regression alone, same example
# goals) 457/477. v33 and v35 lost goals their writers happened to word exactly like example goals (2 and 1).
NEW_SETS_SCORE = 458 / 477
FLOORS = {GUARD_SETS: GUARD_SCORE, NEW_SETS: NEW_SETS_SCORE}
HIGH_CONFIDENCE = 0.8  # answers at or above this confidence must be right at least 95 % of the time


def blind_set_names() -> list[str]:
    return sorted((p.stem.rsplit("_", 1)[-1] for p in DATA.glob("advisor_blind_goals_v*.jsonl")), key=lambda n: int(n[1:]))


def blind_rows(names=GUARD_SETS) -> list[dict]:
    """Rows of the named sets; the expected outcome is in "approach" (sets 5–8) or "expected" (sets 9–10, as written)."""
    rows = []
    for name in names:
        for line in (DATA / f"advisor_blind_goals_{name}.jsonl").read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                rows.append(row | {"approach": str(row.get("approach") or row["expected"]).strip().lower(), "set": name})
    return rows


@pytest.fixture(scope="module")
def blind_results():
    from advisor import Advisor

    rows = blind_rows(tuple(blind_set_names()))
    recommendations = Advisor(use_tokenizer=False).advise_many([(row["goal"], None) for row in rows])
    return list(zip(rows, recommendations))


def test_blind_sets_are_not_training_data():
    from advisor.anchors import anchors

    rows = blind_rows(tuple(blind_set_names()))
    assert set(blind_set_names()) == set(GUARD_SETS + NEW_SETS)
    assert {r["approach"] for r in rows} <= {"rag", "finetune", "both", "prompt", "clarify"}
    assert not {r["goal"].lower() for r in rows} & {a.goal.lower() for a in anchors()}


def blind_accuracy(blind_results, names) -> float:
    picked = [(row, rec) for row, rec in blind_results if row["set"] in names]
    outcome = lambda rec: "clarify" if rec.needs_clarification else rec.approach  # noqa: E731
    wrong = [(row["approach"], outcome(rec), row["goal"]) for row, rec in picked if outcome(rec) != row["approach"]]
    right = len(picked) - len(wrong)
    print(f"\nblind accuracy on {'+'.join(names)}: {right / len(picked):.1%} ({right}/{len(picked)})")
    for expected, got, goal in wrong:
        print(f"  expected {expected:<8} got {got:<8} {goal}")
    return right / len(picked)


@pytest.mark.parametrize("names", list(FLOORS), ids=lambda n: "+".join(n))
def test_blind_accuracy_floor(blind_results, names):
    assert blind_accuracy(blind_results, names) >= FLOORS[names] - 1e-9


def test_new_blind_sets_meet_target(blind_results):
    assert blind_accuracy(blind_results, NEW_SETS) >= TARGET


def test_confident_answers_are_right_at_least_95_percent_of_the_time(blind_results):
    confident = [(row, rec) for row, rec in blind_results if rec.confidence >= HIGH_CONFIDENCE]
    right = sum(not rec.needs_clarification and rec.approach == row["approach"] for row, rec in confident)
    print(f"\nconfidence >= {HIGH_CONFIDENCE}: {right}/{len(confident)} right")
    assert len(confident) >= len(blind_results) / 2 and right / len(confident) >= 0.95
