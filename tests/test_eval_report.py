"""trainer.evaluate with a fake engine: scoring, fairness (same prompts and settings), report files, table, CLI."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from trainer import evaluate as ev
from trainer import metrics
from trainer.errors import TrainerError

LABELS = ["bearish", "bullish", "neutral"]
REGRESSION = ev.load_regression_questions()
REG_REFS = {q["question"]: q["reference"] for q in REGRESSION}


class FakeEngine:
    """Answers like a chat engine; records every call so tests can check what each side saw."""

    def __init__(self, base_fn, tuned_fn):
        self.base_fn, self.tuned_fn = base_fn, tuned_fn
        self.calls: list[dict] = []

    def generate_batch(self, conversations, settings=None, adapter=None, batch_size=8, progress=None):
        self.calls.append({"conversations": conversations, "settings": settings, "adapter": adapter, "batch_size": batch_size})
        fn = self.base_fn if adapter is None else self.tuned_fn
        return [fn(c[-1]["content"]) for c in conversations]

    def score_labels(self, conversations, labels, adapter=None, batch_size=8, progress=None):
        """Label-likelihood answers: the label the fake would say gets log-prob 0, the others -3."""
        from fintune.label_scoring import LabelScores

        self.calls.append({"conversations": conversations, "labels": labels, "adapter": adapter, "batch_size": batch_size})
        fn = self.base_fn if adapter is None else self.tuned_fn
        out = []
        for c in conversations:
            said = metrics.map_to_label(fn(c[-1]["content"]), labels)
            out.append(LabelScores(list(labels), [0.0 if label == said else -3.0 for label in labels]))
        return out


def exact_similarity(preds, refs):
    return [1.0 if p == r else 0.0 for p, r in zip(preds, refs)]


def make_run(root: Path, rows: list[dict], task="classification", labels=LABELS, adapter=True) -> Path:
    run_dir = root / "run-1"
    (run_dir / "data").mkdir(parents=True)
    meta = {"id": "run-1", "name": "sentiment", "status": "completed", "base_model": "fake-base", "task": task, "labels": labels}
    (run_dir / "run.json").write_text(json.dumps(meta))
    (run_dir / "data" / "val.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (run_dir / "data" / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    if adapter:
        (run_dir / "adapter").mkdir()
        (run_dir / "adapter" / "adapter_config.json").write_text("{}")
    return run_dir


CLS_ROWS = [
    {"prompt": "Stocks soar on record profits", "completion": "bullish"},
    {"prompt": "Shares tumble after guidance cut", "completion": "bearish"},
    {"prompt": "Company schedules earnings call", "completion": "neutral"},
    {"prompt": "Analyst upgrades to buy", "completion": "bullish"},
    {"prompt": "Bank misses estimates", "completion": "bearish"},
    {"prompt": "Board meets on Tuesday", "completion": "neutral"},
]
TRUTH = {r["prompt"]: r["completion"] for r in CLS_ROWS}


def tweet(content: str) -> str:
    return content.split("\n\n")[0]


def base_cls(content: str) -> str:
    if content in REG_REFS:
        return REG_REFS[content]
    # The base says "bullish" for everything, except it rambles on one row (-> invalid).
    return "I am not sure what you mean." if "Board" in content else "The sentiment here is Bullish."


def tuned_cls(content: str) -> str:
    if content in REG_REFS:
        return "bullish"  # forgot how to answer general questions -> regression flagged
    t = tweet(content)
    return "neutral" if "Bank" in t else TRUTH[t]  # one mistake: bearish read as neutral


@pytest.fixture
def cls_run(tmp_path):
    return make_run(tmp_path, CLS_ROWS)


def test_classification_report_by_hand(cls_run):
    engine = FakeEngine(base_cls, tuned_cls)
    report = ev.evaluate_run(cls_run, config=ev.EvalConfig(batch_size=4, classification_answers="generate"), engine=engine, similarity=exact_similarity)

    # base: predicts bullish x5, invalid x1 -> right on the 2 bullish rows: 2/6.
    #   F1 bullish: P=2/5 R=1 -> 4/7; bearish 0; neutral 0 -> macro 4/21
    # tuned: 5/6 right. bearish: tp1 fn1 -> P1 R.5 F1 2/3; bullish 1; neutral: tp2 fp1 -> P2/3 R1 F1 .8
    #   macro = (2/3 + 1 + 0.8) / 3
    assert report["metrics"]["base"]["accuracy"] == pytest.approx(2 / 6)
    assert report["metrics"]["base"]["macro_f1"] == pytest.approx(4 / 21)
    assert report["metrics"]["base"]["invalid_rate"] == pytest.approx(1 / 6)
    assert report["metrics"]["tuned"]["accuracy"] == pytest.approx(5 / 6)
    assert report["metrics"]["tuned"]["macro_f1"] == pytest.approx((2 / 3 + 1 + 0.8) / 3)
    assert report["delta"]["accuracy"] == pytest.approx(0.5)
    assert report["confusion"]["columns"] == [*LABELS, "invalid"]
    assert report["confusion"]["tuned"] == [[1, 0, 1, 0], [0, 2, 0, 0], [0, 0, 2, 0]]
    assert report["confusion"]["base"] == [[0, 2, 0, 0], [0, 2, 0, 0], [0, 1, 0, 1]]

    # Stored with the run, plot included.
    stored = json.loads((cls_run / "eval.json").read_text())
    assert stored["metrics"] == report["metrics"]
    png = cls_run / "confusion_matrix.png"
    assert report["confusion_matrix_png"] == "confusion_matrix.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_base_and_tuned_prompts_and_settings(cls_run):
    engine = FakeEngine(base_cls, tuned_cls)
    ev.evaluate_run(cls_run, config=ev.EvalConfig(batch_size=4, regression=False, classification_answers="generate"), engine=engine, similarity=exact_similarity)
    base_calls = [c for c in engine.calls if c["adapter"] is None]
    tuned_calls = [c for c in engine.calls if c["adapter"] is not None]
    assert base_calls and tuned_calls
    assert {c["adapter"] for c in tuned_calls} == {str(cls_run / "adapter")}
    flat = lambda calls: [conv[-1]["content"] for c in calls for conv in c["conversations"]]  # noqa: E731
    # the tuned model sees its training prompt; the base the same prompt plus the label set
    assert flat(tuned_calls) == [r["prompt"] for r in CLS_ROWS]
    assert flat(base_calls) == [r["prompt"] + "\n\nAnswer with one of: bearish, bullish, neutral." for r in CLS_ROWS]
    assert {c["settings"].to_dict()["temperature"] for c in engine.calls} == {0.0}
    assert len({json.dumps(c["settings"].to_dict()) for c in engine.calls}) == 1
    assert all(len(c["conversations"]) <= 4 for c in engine.calls)


def test_best_and_worst_examples(cls_run):
    report = ev.evaluate_run(cls_run, config=ev.EvalConfig(show_examples=2, regression=False, classification_answers="generate"), engine=FakeEngine(base_cls, tuned_cls), similarity=exact_similarity)
    best, worst = report["examples"]["best"], report["examples"]["worst"]
    assert len(best) == 2 and len(worst) == 2
    assert all(e["tuned_score"] == 1 and e["base_score"] == 0 for e in best)
    assert worst[0]["prompt"].startswith("Bank misses")  # the only row the tuned model got wrong
    assert worst[0]["tuned_label"] == "neutral" and worst[0]["base_label"] == "bullish"
    assert not {e["prompt"] for e in best} & {e["prompt"] for e in worst}


def test_regression_check_tells_a_task_adapters_narrowing_from_damage(cls_run, tmp_path):
    # The classification adapter answers "bullish" to every general question: expected narrowing, not damage.
    report = ev.evaluate_run(cls_run, engine=FakeEngine(base_cls, tuned_cls), similarity=exact_similarity)
    reg = report["regression"]
    assert reg["n_questions"] == len(REGRESSION) >= 10
    assert reg["base"] == 1.0 and reg["tuned"] == 0.0
    assert reg["kind"] == "narrowed" and reg["flagged"] is False and reg["label_answer_share"] == 1.0
    assert "Use the base model for general questions" in reg["verdict"]

    # An adapter whose general answers are wrong free text (not a label) has damaged the model.
    def rambling(content: str) -> str:
        return "Something unrelated entirely." if content in REG_REFS else tuned_cls(content)

    damaged = make_run(tmp_path / "damaged", CLS_ROWS)
    reg = ev.evaluate_run(damaged, engine=FakeEngine(base_cls, rambling), similarity=exact_similarity)["regression"]
    assert reg["kind"] == "damaged" and reg["flagged"] is True and "dropped" in reg["verdict"]


def test_label_likelihood_answers_are_always_labels_and_judge_both_sides_alike(cls_run):
    engine = FakeEngine(base_cls, tuned_cls)
    report = ev.evaluate_run(cls_run, config=ev.EvalConfig(batch_size=4, regression=False), engine=engine, similarity=exact_similarity)
    assert report["answers"] == "labels"
    assert report["metrics"]["base"]["invalid_rate"] == 0 and report["metrics"]["tuned"]["invalid_rate"] == 0
    assert report["metrics"]["tuned"]["accuracy"] == pytest.approx(5 / 6)
    scored = [c for c in engine.calls if "labels" in c]
    assert scored and all(c["labels"] == LABELS for c in scored)
    # the majority-class baseline of the training split is reported beside the models
    assert report["baselines"]["majority"]["accuracy"] == pytest.approx(2 / 6)


def test_a_model_that_answers_one_label_is_flagged(cls_run):
    report = ev.evaluate_run(cls_run, config=ev.EvalConfig(regression=False), engine=FakeEngine(base_cls, lambda c: "neutral"),
                             similarity=exact_similarity)
    assert "mostly predicts one class" in report["warnings"]["tuned"]
    assert "WARNING: the fine-tuned model answers 'neutral'" in ev.format_report_table(report)


def test_eval_on_other_data_keeps_the_runs_own_report(cls_run, tmp_path):
    other = tmp_path / "other.jsonl"
    other.write_text("".join(json.dumps(r) + "\n" for r in CLS_ROWS[:3]))
    engine = FakeEngine(base_cls, tuned_cls)
    own = ev.evaluate_run(cls_run, config=ev.EvalConfig(regression=False), engine=engine, similarity=exact_similarity)
    elsewhere = ev.evaluate_run(cls_run, data=other, config=ev.EvalConfig(regression=False), engine=engine, similarity=exact_similarity)
    assert own["report_file"] == "eval.json" and elsewhere["report_file"].startswith("eval-other-")
    assert ev.load_report(cls_run)["n_examples"] == 6 and ev.load_report(cls_run, other)["n_examples"] == 3


def test_max_examples_limits_rows(cls_run):
    engine = FakeEngine(base_cls, tuned_cls)
    report = ev.evaluate_run(cls_run, config=ev.EvalConfig(max_examples=3, regression=False), engine=engine, similarity=exact_similarity)
    assert report["n_examples"] == 3 and report["n_available"] == 6
    assert sum(len(c["conversations"]) for c in engine.calls) == 6


FREE_ROWS = [
    {"prompt": "What is a bond?", "completion": "A loan that pays interest."},
    {"prompt": "What is equity?", "completion": "Ownership in a company."},
]


def test_freeform_report_by_hand(tmp_path):
    run_dir = make_run(tmp_path, FREE_ROWS, task="freeform", labels=None)
    tuned = {"What is a bond?": "a loan that pays interest", "What is equity?": "ownership of company shares"}
    engine = FakeEngine(lambda c: "I do not know.", lambda c: tuned.get(c, "?"))
    report = ev.evaluate_run(run_dir, config=ev.EvalConfig(regression=False), engine=engine, similarity=exact_similarity)
    assert report["task"] == "freeform" and "confusion" not in report
    assert not (run_dir / "confusion_matrix.png").exists()
    base, tuned_m = report["metrics"]["base"], report["metrics"]["tuned"]
    assert base == {"exact_match": 0.0, "token_f1": 0.0, "rouge_l": 0.0, "embedding_similarity": 0.0}
    # row 1: exact after normalization -> EM 1, F1 1, ROUGE-L 1.
    # row 2: pred [ownership, of, company, shares], ref [ownership, in, company]: common 2 -> P 1/2, R 2/3, F1 4/7;
    #        LCS [ownership, company] = 2 -> ROUGE-L 4/7 as well.
    assert tuned_m["exact_match"] == pytest.approx(0.5)
    assert tuned_m["token_f1"] == pytest.approx((1 + 4 / 7) / 2)
    assert tuned_m["rouge_l"] == pytest.approx((1 + 4 / 7) / 2)
    assert report["example_score"] == "embedding similarity"
    table = ev.format_report_table(report)
    for name in ("exact match", "token F1", "ROUGE-L", "embedding similarity"):
        assert name in table


def test_freeform_without_similarity_uses_token_f1(tmp_path):
    run_dir = make_run(tmp_path, FREE_ROWS, task="freeform", labels=None)
    report = ev.evaluate_run(run_dir, config=ev.EvalConfig(regression=False, embedding_similarity=False),
                             engine=FakeEngine(lambda c: "x", lambda c: "loan"))
    assert "embedding_similarity" not in report["metrics"]["base"]
    assert report["example_score"] == "token f1"


def test_task_inferred_when_run_json_has_none(tmp_path):
    run_dir = make_run(tmp_path, CLS_ROWS, task=None, labels=None)
    report = ev.evaluate_run(run_dir, config=ev.EvalConfig(regression=False), engine=FakeEngine(base_cls, tuned_cls), similarity=exact_similarity)
    assert report["task"] == "classification" and report["labels"] == LABELS


def test_errors_name_the_fix(tmp_path):
    no_adapter = make_run(tmp_path, CLS_ROWS, adapter=False)
    with pytest.raises(TrainerError, match="no trained adapter"):
        ev.evaluate_run(no_adapter, engine=FakeEngine(base_cls, tuned_cls))
    with pytest.raises(TrainerError, match="not a FinTune run"):
        ev.evaluate_run(tmp_path / "nowhere", engine=FakeEngine(base_cls, tuned_cls))
    with pytest.raises(TrainerError, match="max_examples"):
        ev.EvalConfig(max_examples=-1)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"q": 1}\n')
    with pytest.raises(TrainerError, match="prompt"):
        ev.read_rows(bad)


def test_load_data_rows_uses_the_trainers_loader(tmp_path):
    csv_file = tmp_path / "d.csv"
    csv_file.write_text("text,label\nStocks up,1\n\"Down, a lot\",0\nMeeting today,2\n")
    # numeric labels -> names through the trainer's known label map (0 bearish, 1 bullish, 2 neutral)
    assert ev.load_data_rows(csv_file) == [{"prompt": "Stocks up", "completion": "bullish"},
                                           {"prompt": "Down, a lot", "completion": "bearish"},
                                           {"prompt": "Meeting today", "completion": "neutral"}]
    # the run's column mapping (here a prompt template) is reused when the columns match
    spec = {"shape": "text_label", "prompt_column": "text", "completion_column": "label",
            "label_names": {"0": "bearish", "1": "bullish", "2": "neutral"}, "prompt_template": "Tweet: {text}"}
    rows = ev.load_data_rows(csv_file, {"data_spec": spec})
    assert rows[0] == {"prompt": "Tweet: Stocks up", "completion": "bullish"}
    jl = tmp_path / "d.jsonl"
    jl.write_text('{"question": "Q?", "answer": " A. "}\n{"question": "R?", "answer": "B"}\n')
    assert ev.load_data_rows(jl) == [{"prompt": "Q?", "completion": "A."}, {"prompt": "R?", "completion": "B"}]


def test_evaluate_on_other_data(cls_run, tmp_path):
    other = tmp_path / "other.jsonl"
    other.write_text("".join(json.dumps(r) + "\n" for r in CLS_ROWS[:2]))
    report = ev.evaluate_run(cls_run, data=other, config=ev.EvalConfig(regression=False), engine=FakeEngine(base_cls, tuned_cls), similarity=exact_similarity)
    assert report["n_examples"] == 2 and report["data"] == str(other)


def test_build_messages_and_infer_task():
    msgs = ev.build_messages("Stocks up", "classification", LABELS, for_base=True)
    assert msgs == [{"role": "user", "content": "Stocks up\n\nAnswer with one of: bearish, bullish, neutral."}]
    assert ev.build_messages("Stocks up", "classification", LABELS) == [{"role": "user", "content": "Stocks up"}]
    already = "Is this tweet bearish, bullish or neutral? Stocks up"
    assert ev.build_messages(already, "classification", LABELS, for_base=True)[0]["content"] == already
    assert ev.build_messages("What is a bond?", "freeform", for_base=True)[0]["content"] == "What is a bond?"
    assert ev.infer_task(CLS_ROWS) == ("classification", LABELS)
    assert ev.infer_task(FREE_ROWS)[0] == "freeform"


def test_table_and_dataframes(cls_run):
    report = ev.evaluate_run(cls_run, engine=FakeEngine(base_cls, tuned_cls), similarity=exact_similarity)
    table = ev.format_report_table(report)
    assert "accuracy" in table and "macro-F1" in table and "+0.500" in table
    assert "Expected narrowing" in table  # the regression check explains the label answers to general questions
    assert "majority" in table
    frames = ev.report_to_dataframes(report)
    assert list(frames["metrics"]["metric"])[:3] == ["accuracy", "macro-F1", "not a label"]
    assert list(frames["metrics"].columns) == ["metric", "base", "fine-tuned", "change", "majority class"]
    assert len(frames["regression"]) == len(REGRESSION)
    assert set(frames["per_class"]["label"]) == set(LABELS)
    assert set(frames["examples"]["kind"]) == {"best", "worst"}
    assert ev.load_report(cls_run)["run_id"] == "run-1"
    assert ev.load_report(cls_run.parent) is None


def test_cli_prints_table_and_writes_json(cls_run, tmp_path, monkeypatch, capsys):
    import fintune.engine

    engine = FakeEngine(base_cls, tuned_cls)
    monkeypatch.setattr(fintune.engine.ChatEngine, "shared", classmethod(lambda cls, name=None: engine))
    monkeypatch.setattr(ev, "embedding_similarity", exact_similarity)
    parser = argparse.ArgumentParser(prog="fintune")
    ev.register_cli(parser.add_subparsers())
    out = tmp_path / "report.json"
    args = parser.parse_args(["eval", str(cls_run), "--json", str(out), "--max-examples", "4"])
    assert args.func(args) == 0
    printed = capsys.readouterr()
    assert "accuracy" in printed.out and "macro-F1" in printed.out
    assert "100/100" in printed.err  # a tqdm progress bar on stderr
    assert json.loads(out.read_text())["n_examples"] == 4


def test_cli_unknown_run(tmp_path, monkeypatch):
    monkeypatch.setenv("FINTUNE_HOME", str(tmp_path))
    with pytest.raises(TrainerError, match="fintune runs"):
        ev.resolve_run_dir("no-such-run")


def test_rows_with_unicode_line_separators_are_read(tmp_path):
    """Tweets contain U+2028; a JSONL row is one '\\n'-terminated line, not what str.splitlines() calls a line."""
    path = tmp_path / "rows.jsonl"
    path.write_text(json.dumps({"prompt": "up\u2028and away", "completion": "bullish"}, ensure_ascii=False) + "\n", encoding="utf-8")
    assert ev.read_rows(path) == [{"prompt": "up\u2028and away", "completion": "bullish"}]
