"""The advisor on goals written blind to its method (``tests/data/advisor_blind_goals_v5..v8.jsonl``, see the README there).

Four writers who never saw the advisor's code, its example goals or each other's work wrote 48 goals each from
the product spec's four definitions. Nobody tuned the method on them: they were scored once, on the shipped
method, and that number is the honest estimate of how the advisor does on new goals. Target from the issue:
>= 90 %. A goal the advisor answers with a clarifying question counts wrong.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
BLIND_SETS = tuple(f"advisor_blind_goals_v{n}.jsonl" for n in (5, 6, 7, 8))
TARGET = 0.90
# Scored once, on the shipped method (goal-model-4): 174/192 = 90.6 % (per set 43, 45, 46, 40 of 48). The floor
# guards that score against regressions; the target is the bar.
FLOOR = 174 / 192


def blind_rows() -> list[dict]:
    return [json.loads(line) for name in BLIND_SETS for line in (DATA / name).read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module")
def blind_results():
    from advisor import Advisor

    rows = blind_rows()
    recommendations = Advisor(use_tokenizer=False).advise_many([(row["goal"], None) for row in rows])
    return list(zip(rows, recommendations))


def test_blind_sets_cover_all_four_approaches_and_are_not_training_data():
    from advisor.anchors import anchors

    rows = blind_rows()
    assert Counter(r["approach"] for r in rows) == {"rag": 48, "finetune": 48, "both": 48, "prompt": 48}
    assert not {r["goal"].lower() for r in rows} & {a.goal.lower() for a in anchors()}


def blind_accuracy(blind_results) -> float:
    wrong = [(row["approach"], "clarify" if rec.needs_clarification else rec.approach, row["goal"]) for row, rec in blind_results
             if rec.needs_clarification or rec.approach != row["approach"]]
    right = len(blind_results) - len(wrong)
    print(f"\nblind accuracy {right / len(blind_results):.1%} ({right}/{len(blind_results)})")
    for expected, got, goal in wrong:
        print(f"  expected {expected:<8} got {got:<8} {goal}")
    return right / len(blind_results)


def test_blind_accuracy_floor(blind_results):
    assert blind_accuracy(blind_results) >= FLOOR - 1e-9


def test_blind_accuracy_meets_target(blind_results):
    assert blind_accuracy(blind_results) >= TARGET
