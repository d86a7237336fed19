"""evaluate_run through the real ChatEngine on the tiny test model with a real PEFT adapter (seconds, no download).

The key check: the "base" answers really come from the base model with the adapter disabled, even
after the adapter has been loaded into the engine.
"""

from __future__ import annotations

import json

import pytest

from trainer import evaluate as ev


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    pytest.importorskip("peft")
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from trainer.testing import tiny_model_dir

    root = tmp_path_factory.mktemp("tiny")
    model_dir = tiny_model_dir(root)
    run_dir = root / "run-tiny"
    (run_dir / "data").mkdir(parents=True)
    rows = [{"prompt": f"Tweet {i}: the stock moved", "completion": ["bearish", "bullish", "neutral"][i % 3]} for i in range(6)]
    (run_dir / "data" / "val.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (run_dir / "run.json").write_text(json.dumps({"id": "run-tiny", "name": "tiny", "status": "completed", "base_model": str(model_dir),
                                                  "task": "classification", "labels": ["bearish", "bullish", "neutral"]}))
    import torch

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    # init_lora_weights=False: random B matrices, so the adapter visibly changes the answers
    peft_model = get_peft_model(model, LoraConfig(r=8, lora_alpha=64, target_modules="all-linear", init_lora_weights=False, task_type="CAUSAL_LM"))
    peft_model.save_pretrained(run_dir / "adapter")
    return run_dir, model_dir


def test_base_answers_have_the_adapter_disabled(tiny_run):
    from fintune.engine import ChatEngine

    run_dir, model_dir = tiny_run
    engine = ChatEngine(str(model_dir))
    config = ev.EvalConfig(batch_size=4, regression_max_new_tokens=12, max_new_tokens=8)
    report = ev.evaluate_run(run_dir, config=config, engine=engine, similarity=lambda p, r: [0.0] * len(p))

    assert report["n_examples"] == 6 and (run_dir / "eval.json").is_file() and (run_dir / "confusion_matrix.png").is_file()
    # The regression questions run after the adapter was loaded: their base answers must equal what a
    # fresh engine that never saw the adapter says.
    reg = report["regression"]["items"]
    fresh = ChatEngine(str(model_dir))
    convs = [[{"role": "user", "content": item["question"]}] for item in reg]
    expected_base = fresh.generate_batch(convs, config.settings(12), adapter=None, batch_size=4)
    assert [item["base"] for item in reg] == expected_base
    # ...and the adapter really changes them (otherwise the check above proves nothing).
    assert [item["tuned"] for item in reg] != expected_base
    # The streamed path (used by the Compare tab) honours adapter=None the same way.
    assert engine.generate(convs[0], config.settings(12), adapter=None) == fresh.generate(convs[0], config.settings(12), adapter=None)
