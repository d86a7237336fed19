"""End to end with the real default model: a run folder built by hand (val rows + a PEFT adapter made on
the real base), evaluated through the shared ChatEngine and the real MiniLM similarity."""

from __future__ import annotations

import json

import pytest

from trainer import evaluate as ev

pytestmark = pytest.mark.slow


def test_embedding_similarity_is_semantic():
    sims = ev.embedding_similarity(
        ["Paris is the capital city of France.", "Bananas are yellow."],
        ["The capital of France is Paris.", "The capital of France is Paris."])
    assert sims[0] > 0.8 and sims[1] < 0.3


def test_evaluate_real_model_run(real_model_path, tmp_path):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from fintune.engine import ChatEngine

    run_dir = tmp_path / "run-real"
    (run_dir / "data").mkdir(parents=True)
    rows = [
        {"prompt": "$AAPL beats estimates and raises guidance", "completion": "bullish"},
        {"prompt": "Bank cuts its price target on weak demand for the chipmaker", "completion": "bearish"},
        {"prompt": "Company to present at an investor conference on Tuesday", "completion": "neutral"},
        {"prompt": "Shares jump 12% after record quarterly revenue", "completion": "bullish"},
    ]
    (run_dir / "data" / "val.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (run_dir / "run.json").write_text(json.dumps({"id": "run-real", "name": "real", "status": "completed", "base_model": real_model_path,
                                                  "task": "classification", "labels": ["bearish", "bullish", "neutral"]}))
    model = AutoModelForCausalLM.from_pretrained(real_model_path)
    # A freshly initialised LoRA (B = 0) changes nothing: tuned answers must equal base answers only
    # when the base prompt is the same, so this checks the plumbing, not quality.
    get_peft_model(model, LoraConfig(r=4, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM")).save_pretrained(run_dir / "adapter")
    del model

    engine = ChatEngine.shared(real_model_path)
    config = ev.EvalConfig(batch_size=8, max_new_tokens=8, regression_max_new_tokens=16)
    report = ev.evaluate_run(run_dir, config=config, engine=engine)

    assert report["n_examples"] == 4
    labels = report["labels"]
    for side in ("base", "tuned"):
        # the confusion matrix holds every example under its true label (1 bearish, 2 bullish, 1 neutral), and the
        # accuracy is exactly its diagonal over the four examples
        conf = report["confusion"][side]
        assert [sum(row) for row in conf] == [1, 2, 1]
        correct = sum(conf[i][i] for i in range(len(labels)))
        assert report["metrics"][side]["accuracy"] == pytest.approx(correct / 4)
        assert report["metrics"][side]["invalid_rate"] == pytest.approx(sum(row[-1] for row in conf) / 4)
    assert (run_dir / "confusion_matrix.png").is_file()
    reg = report["regression"]
    assert reg["n_questions"] >= 10 and -1 <= reg["base"] <= 1
    # zero-initialised adapter + identical prompts (regression questions) -> identical answers
    assert [i["base"] for i in reg["items"]] == [i["tuned"] for i in reg["items"]]
    assert "accuracy" in ev.format_report_table(report)
