"""`fintune advise` end to end: the two acceptance commands, --batch, errors, and the UI action."""

from __future__ import annotations

import json

import pytest

from fintune.cli import main


def _json(capsys, argv):
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_classification_goal_with_data_advises_finetune_with_plan(tmp_home, shared_data, capsys):
    out = _json(capsys, ["advise", "Classify financial news headlines as bullish, bearish or neutral",
                         "--data", str(shared_data / "twitter_fin_sentiment" / "sent_train.csv"), "--json"])
    assert out["approach"] == "finetune"
    assert isinstance(out["confidence"], float) and out["reasons"] and all(isinstance(r, str) for r in out["reasons"])
    plan = out["plan"]
    assert plan["label_smoothing"] == 0 and plan["reasons"]["label_smoothing"]  # the measured recipe (docs/training.md)
    assert plan["learning_rate"] == pytest.approx(2e-3) and plan["time_estimate"]["minutes"] <= 30 * 1.02
    assert plan["memory_estimate"]["total_gib"] > 0 and "fits" in plan["memory_estimate"]
    from trainer.plan import TrainPlan

    TrainPlan.from_dict(plan)


def test_glossary_goal_advises_rag(tmp_home, capsys):
    out = _json(capsys, ["advise", "Explain what financial terms like EBITDA mean", "--json"])
    assert out["approach"] == "rag" and out["plan"] is None
    assert any("facts" in r and "retrieval" in r for r in out["reasons"]), out["reasons"]


def test_text_output_and_plan_file(tmp_home, shared_data, capsys, tmp_path):
    plan_file = tmp_path / "plan.json"
    assert main(["advise", "Detect whether a tweet about a stock is bullish or bearish", "--data",
                 str(shared_data / "twitter_fin_sentiment" / "sent_train.csv"), "--plan-out", str(plan_file)]) == 0
    text = capsys.readouterr().out
    assert "Advice: Fine-tune" in text and "Memory:" in text
    from trainer.plan import TrainPlan

    assert TrainPlan.load(plan_file).learning_rate == pytest.approx(2e-3)  # the classification recipe


def test_batch_writes_one_result_per_line(tmp_home, tmp_path, capsys):
    batch = tmp_path / "goals.jsonl"
    batch.write_text("\n".join(json.dumps(r) for r in [
        {"goal": "Explain what financial terms like EBITDA mean"},
        {"goal": "Translate a French news article into English"},
        {"goal": "Label tweets", "data": str(tmp_path / "missing.csv")},
    ]), encoding="utf-8")
    assert main(["advise", "--batch", str(batch)]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r.get("approach") for r in rows] == ["rag", "prompt", None]
    assert "does not exist" in rows[2]["error"]


@pytest.mark.parametrize("argv,match", [(["advise"], "Give a goal"), (["advise", "x", "--batch", "f.jsonl"], "not both")])
def test_usage_errors(tmp_home, capsys, argv, match):
    assert main(argv) == 1
    assert match in capsys.readouterr().err


def test_ui_action_fills_plan_state(tmp_home, shared_data):
    from ui.advisor_tab import advise_action

    card, rec, plan, to_train, to_kb, details = advise_action("Classify financial news headlines as bullish, bearish or neutral",
                                                              str(shared_data / "twitter_fin_sentiment" / "sent_train.csv"))
    assert "Fine-tune" in card and rec["approach"] == "finetune"
    assert plan["learning_rate"] == pytest.approx(2e-3)  # the classification recipe
    assert to_train["visible"] is True and to_kb["visible"] is False
    assert "Decided by" in details and "Goal shares" in details and "Goal shares" not in card
    card, rec, plan, to_train, to_kb, details = advise_action("Explain what financial terms like EBITDA mean", None)
    assert plan is None and to_kb["visible"] is True and to_train["visible"] is False
