"""Data profiling and the data's effect on the decision, on the shared real data and small files made here."""

from __future__ import annotations

import json

import pytest

from advisor.data_profile import load_pairs, profile
from advisor.errors import AdvisorError


@pytest.mark.parametrize("rel,kind", [
    ("twitter_fin_sentiment/sent_train.csv", "label_set"),
    ("fiqa/fiqa_qa.jsonl", "facts"),
    ("tatqa/tatqa_dev_flat.jsonl", "grounded"),
    ("wordnet_finance/wordnet_finance_glossary.jsonl", "facts"),
])
def test_real_data_kinds(shared_data, rel, kind):
    p = profile(shared_data / rel)
    assert p.kind == kind, p.summary
    assert p.n_rows > 500


def test_sent_train_profile(shared_data):
    p = profile(shared_data / "twitter_fin_sentiment" / "sent_train.csv")
    assert (p.n_rows, p.distinct_outputs, p.input_field, p.output_field) == (9543, 3, "text", "label")
    assert sorted(p.labels) == ["bearish", "bullish", "neutral"]  # named as the trainer names them (known label map)


def _write_jsonl(path, rows):
    path.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    return path


@pytest.mark.parametrize("rows,kind", [
    ([{"input": f"invoice {i} from ACME for ${i}.00", "output": json.dumps({"vendor": "ACME", "amount": i})} for i in range(60)], "format"),
    ([{"prompt": f"note {i}", "completion": f"Summary: item {i}\nRisk: low\nAction: none"} for i in range(60)], "format"),
    ([{"text": f"t{i}", "label": "yes" if i % 2 else "no"} for i in range(10)], "too_small"),
    ([{"question": f"What is the capital of country number {i}?", "answer": f"City {i} has been the capital since {1800 + i}"} for i in range(60)], "facts"),
    ([{"messages": [{"role": "user", "content": f"rewrite {i} words"}, {"role": "assistant", "content": f"a rewritten version number {i} of it"}]} for i in range(60)], "freeform"),
])
def test_made_up_files(tmp_path, rows, kind):
    assert profile(_write_jsonl(tmp_path / "d.jsonl", rows)).kind == kind


@pytest.mark.parametrize("name,content,match", [
    ("missing.csv", None, "does not exist"),
    ("d.txt", "hello", "unsupported type"),
    ("d.csv", "a,b,c\n1,2,3\n", "could not tell input from output"),
    ("d.csv", "text,label\n", "no rows"),
])
def test_bad_files_say_how_to_fix(tmp_path, name, content, match):
    path = tmp_path / name
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(AdvisorError, match=match):
        profile(path)


def test_load_pairs_reads_context(shared_data):
    ins, outs, ctx, fields = load_pairs(shared_data / "tatqa" / "tatqa_dev_flat.jsonl", limit=5)
    assert fields == ("question", "answer", "context") and len(ctx) == len(ins) == 5


@pytest.fixture(scope="module")
def advisor():
    from advisor.decide import Advisor
    from fintune.hardware import Machine

    return Advisor(machine=Machine(ram_gib=24, cpu_cores=2), use_tokenizer=False)


def test_fact_rows_warn_against_finetuning(advisor, tmp_path):
    rows = [{"question": f"What is our fee for product {i}?", "answer": f"Product {i} costs {i}.5% a year, billed monthly"} for i in range(300)]
    rec = advisor.advise("Fine-tune the model to answer with our house conventions learned from examples", _write_jsonl(tmp_path / "f.jsonl", rows))
    assert any("look like facts" in w for w in rec.warnings)
    assert any(r.startswith("Your data:") and "facts" in r for r in rec.reasons)


def test_label_data_turns_knowledge_goal_into_both(advisor, shared_data):
    rec = advisor.advise("Answer questions about today's market news", shared_data / "twitter_fin_sentiment" / "sent_train.csv")
    assert rec.approach == "both" and rec.plan is not None


def test_sent_train_gives_classification_plan(advisor, shared_data):
    rec = advisor.advise("Classify financial news headlines as bullish, bearish or neutral",
                         shared_data / "twitter_fin_sentiment" / "sent_train.csv")
    assert rec.approach == "finetune" and rec.confidence >= 0.9  # 9,543 rows of 3 fixed labels is not a 66% call
    assert rec.plan.learning_rate == pytest.approx(2e-3)  # the classification recipe
    assert "short label" in rec.plan.reasons["max_seq_length"]
    assert "words x 1.3" in rec.plan.reasons["max_seq_length"]  # use_tokenizer=False: the estimate says so
    assert any("9,543 labelled examples" in r for r in rec.reasons[:2])  # the data's shape leads
    assert any(r.startswith("Measured:") and "9.5%" in r for r in rec.reasons)  # the base model on this task
    assert not any("axis" in r or "shares" in r for r in rec.reasons)  # classifier numbers live in evidence
    assert rec.evidence["details"] and rec.evidence["goal_shares"]


def test_a_thousand_labelled_rows_settle_prompt_or_finetune(advisor, tmp_path):
    labels = ("complaint", "question", "compliment")
    rows = [{"question": f"Customer email number {i} about card {i % 17}", "answer": labels[i % 3]} for i in range(1200)]
    rec = advisor.advise("Sort customer emails into complaint, question or compliment", _write_jsonl(tmp_path / "emails.jsonl", rows))
    assert rec.approach == "finetune" and not rec.needs_clarification and rec.plan is not None
    assert any(r.startswith("Your data:") and "far more examples than fit in a prompt" in r for r in rec.reasons)


def test_advisor_reads_what_the_trainer_reads(tmp_path):
    """One loader: a UTF-16 TSV (Excel's "Unicode text") with input/output columns profiles, and the trainer maps the
    same rows from it."""
    from trainer.data import load_data

    rows = "\n".join(f"customer email {i}\t{('complaint', 'question')[i % 2]}" for i in range(60))
    path = tmp_path / "emails.tsv"
    path.write_text("input\toutput\n" + rows + "\n", encoding="utf-16")
    p = profile(path)
    assert (p.n_rows, p.input_field, p.output_field, p.kind) == (60, "input", "output", "label_set")
    loaded = load_data(path)
    assert [e.completion for e in loaded.examples] == load_pairs(path)[1]


def test_label_set_rule_is_the_trainers(tmp_path):
    """The advisor's label_set is exactly the trainer's classification task (trainer.validate.detect_task)."""
    from trainer.validate import detect_task

    labels = [f"label {i}" for i in range(25)]  # 25 short labels: more than a classification head the trainer accepts
    rows = [{"text": f"note {i}", "label": labels[i % 25]} for i in range(500)]
    path = _write_jsonl(tmp_path / "many.jsonl", rows)
    assert detect_task([r["label"] for r in rows])[0] == "freeform"
    assert profile(path).kind != "label_set"
