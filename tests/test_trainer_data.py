"""Data loading, column mapping, validation report and split (fast: a tiny tokenizer, no training)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from trainer.data import DataSpec, UploadLimits, detect_spec, load_data
from trainer.errors import TrainerError
from trainer.split import SplitSpec, split_examples
from trainer.validate import detect_task, validate

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="module")
def tiny_tokenizer(tmp_path_factory):
    from transformers import AutoTokenizer

    from trainer.testing import tiny_model_dir

    return AutoTokenizer.from_pretrained(tiny_model_dir(tmp_path_factory.mktemp("tiny")))


def write_csv(path: Path, header: list[str], rows: list[list]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.mark.parametrize("columns, shape", [
    (["question", "answer"], "question_answer"),
    (["prompt", "completion"], "prompt_completion"),
    (["instruction", "input", "output"], "instruction"),
    (["messages"], "messages"),
    (["text", "label"], "text_label"),
    (["Question", "Answer", "id"], "question_answer"),
])
def test_detect_common_shapes(columns, shape):
    assert detect_spec(columns).shape == shape


def test_detect_label_map_for_numeric_sentiment():
    spec = detect_spec(["text", "label"], sample_labels=["0", "1", "2"])
    assert spec.label_names == {"0": "bearish", "1": "bullish", "2": "neutral"}


def test_unknown_columns_name_the_columns_and_the_fix():
    with pytest.raises(TrainerError, match=r"columns \['foo', 'bar'\].*question/answer"):
        detect_spec(["foo", "bar"])


def test_dataspec_rejects_incomplete_mapping():
    with pytest.raises(TrainerError, match="prompt column and a completion column"):
        DataSpec(shape="question_answer", prompt_column="q")
    with pytest.raises(TrainerError, match="{text}"):
        DataSpec(shape="text_label", prompt_column="t", completion_column="l", prompt_template="no placeholder")


def test_formats_csv_json_jsonl_parquet_load_the_same_pairs(tmp_path):
    rows = [{"question": f"What is q{i}?", "answer": f"A{i}"} for i in range(12)]
    write_csv(tmp_path / "d.csv", ["question", "answer"], [[r["question"], r["answer"]] for r in rows])
    write_jsonl(tmp_path / "d.jsonl", rows)
    (tmp_path / "d.json").write_text(json.dumps(rows), encoding="utf-8")
    import pandas as pd

    pd.DataFrame(rows).to_parquet(tmp_path / "d.parquet")
    results = [load_data(tmp_path / f"d.{ext}") for ext in ("csv", "jsonl", "json", "parquet")]
    for loaded in results:
        assert [(e.prompt, e.completion) for e in loaded.examples] == [(r["question"], r["answer"]) for r in rows]
        assert loaded.spec.shape == "question_answer"
    assert results[0].examples[0].line == 2  # CSV: header is line 1
    assert results[1].examples[0].line == 1  # JSONL: first line


def test_instruction_and_messages_shapes(tmp_path):
    write_jsonl(tmp_path / "i.jsonl", [{"instruction": "Summarise", "input": "Revenue rose 5%.", "output": "Up 5%"}] * 1
                + [{"instruction": f"Task {i}", "input": "", "output": f"done {i}"} for i in range(3)])
    loaded = load_data(tmp_path / "i.jsonl")
    assert loaded.examples[0].prompt == "Summarise\n\nRevenue rose 5%."
    assert loaded.examples[1].prompt == "Task 0"
    chats = [{"messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": f"hi {i}"},
                           {"role": "assistant", "content": f"hello {i}"}]} for i in range(3)]
    chats.append({"messages": [{"role": "user", "content": "no answer"}]})
    write_jsonl(tmp_path / "m.jsonl", chats)
    loaded = load_data(tmp_path / "m.jsonl")
    assert [(e.prompt, e.completion) for e in loaded.examples] == [(f"hi {i}", f"hello {i}") for i in range(3)]
    assert loaded.issues[0].line == 4 and "assistant" in loaded.issues[0].message


def test_row_issues_carry_line_numbers(tmp_path, tiny_tokenizer):
    rows = [[f"question {i}", f"answer {i}"] for i in range(12)]
    rows[2] = ["", "answer"]          # line 4: empty prompt
    rows[5] = ["question 5", " "]     # line 7: empty answer
    rows[8] = ["question 0", "answer 0"]  # line 10: duplicate of line 2
    rows[9] = ["question 1", "other"]     # line 11: conflict with line 3
    loaded = load_data(write_csv(tmp_path / "d.csv", ["question", "answer"], rows))
    report = validate(loaded, tiny_tokenizer, max_seq_length=512, limits=UploadLimits(min_rows=5))
    by_line = {i.line: i.kind for i in report.issues}
    assert by_line[4] == "empty" and by_line[7] == "empty"
    assert by_line[10] == "duplicate" and by_line[11] == "conflict"
    assert report.n_usable == 9 and report.ok
    assert "12 rows read, 9 usable" in report.summary()


def test_wrong_types_in_json(tmp_path):
    rows = [{"question": f"q{i}", "answer": f"a{i}"} for i in range(10)]
    rows[3]["answer"] = {"nested": True}
    rows[4]["question"] = 12345
    loaded = load_data(write_jsonl(tmp_path / "d.jsonl", rows))
    kinds = {(i.line, i.kind, i.severity) for i in loaded.issues}
    assert (4, "wrong_type", "error") in kinds  # dict answer: skipped
    assert any(i.kind == "wrong_type" and i.severity == "warning" and "numbers" in i.message for i in loaded.issues)
    assert len(loaded.examples) == 9


def test_unknown_label_is_reported(tmp_path):
    rows = [[f"tweet {i}", str(i % 3)] for i in range(12)] + [["odd one", "7"]]
    loaded = load_data(write_csv(tmp_path / "t.csv", ["text", "label"], rows))
    assert loaded.spec.label_names == {"0": "bearish", "1": "bullish", "2": "neutral"}
    assert {e.completion for e in loaded.examples} == {"bearish", "bullish", "neutral"}
    assert loaded.issues[-1].kind == "unknown_label" and loaded.issues[-1].line == 14


def test_too_long_rows_and_histogram(tmp_path, tiny_tokenizer):
    rows = [[f"q{i}", "short answer"] for i in range(11)] + [["long " * 200, "x"]]
    loaded = load_data(write_csv(tmp_path / "d.csv", ["question", "answer"], rows))
    report = validate(loaded, tiny_tokenizer, max_seq_length=64)
    assert report.n_over == 1
    long_issue = next(i for i in report.issues if i.kind == "too_long")
    assert long_issue.line == 13 and "64-token cutoff" in long_issue.message
    fig = report.histogram_figure()
    assert fig.axes[0].get_xlabel().startswith("tokens per example")


def test_too_few_rows_blocks_training(tmp_path, tiny_tokenizer):
    loaded = load_data(write_csv(tmp_path / "d.csv", ["question", "answer"], [["a?", "b"], ["c?", "d"]]))
    report = validate(loaded, tiny_tokenizer, limits=UploadLimits(min_rows=10))
    assert not report.ok and "at least 10" in report.summary()


def test_task_detection():
    assert detect_task(["bearish", "bullish", "neutral"] * 5) == ("classification", ["bearish", "bullish", "neutral"])
    assert detect_task([f"a long free-form answer number {i}" for i in range(20)])[0] == "freeform"


def test_split_is_deterministic_grouped_and_respects_minimums(tmp_path):
    rows = [[f"question {i}", f"a{i}"] for i in range(100)] + [["question 7", "conflicting"]]
    loaded = load_data(write_csv(tmp_path / "d.csv", ["question", "answer"], rows))
    a = split_examples(loaded.examples, SplitSpec(val_fraction=0.1, seed=1))
    b = split_examples(list(reversed(loaded.examples)), SplitSpec(val_fraction=0.1, seed=1))
    assert {e.prompt for e in a.val} == {e.prompt for e in b.val}  # order-independent
    assert a.overlap == 0 and 10 <= len(a.val) <= 12
    both = [e for e in a.train + a.val if e.prompt == "question 7"]
    assert len({id(x) for x in a.val} & {id(x) for x in both}) in (0, 2)  # the two "question 7" rows stay together
    small = split_examples(loaded.examples[:12], SplitSpec(val_fraction=0.05))
    assert len(small.val) >= 4 and len(small.train) >= 4
    with pytest.raises(TrainerError, match="distinct prompts"):
        split_examples(loaded.examples[:5])


def test_real_twitter_sentiment_detects_labels():
    path = SHARED / "twitter_fin_sentiment" / "sent_train.csv"
    if not path.is_file():
        pytest.skip(f"shared data not found at {path}")
    loaded = load_data(path)
    assert loaded.spec.shape == "text_label" and loaded.n_rows == 9543
    assert {e.completion for e in loaded.examples} == {"bearish", "bullish", "neutral"}


def test_real_fiqa_loads_as_question_answer():
    path = SHARED / "fiqa" / "fiqa_qa.jsonl"
    if not path.is_file():
        pytest.skip(f"shared data not found at {path}")
    loaded = load_data(path)
    assert loaded.spec.shape == "question_answer" and len(loaded.examples) > 600


# --------------------------------------------------------------------- spreadsheet exports (issue: first hour)
QA_ROWS = [["What is EBITDA?", "Earnings before interest, taxes, depreciation and amortization; a profit measure."]] + [
    [f"What does term {i} mean?", f"Term {i} means answer number {i}."] for i in range(14)
]


def write_delimited(path: Path, rows: list[list], delimiter: str, encoding: str) -> Path:
    with open(path, "w", newline="", encoding=encoding) as handle:
        writer = csv.writer(handle, delimiter=delimiter)
        writer.writerow(["question", "answer"])
        writer.writerows(rows)
    return path


@pytest.mark.parametrize("delimiter,encoding", [("\t", "utf-16"), (",", "utf-16"), ("\t", "utf-16-le")])
def test_utf16_export_from_excel_is_read_not_called_binary(tmp_path, delimiter, encoding):
    path = write_delimited(tmp_path / "unicode-text.csv", QA_ROWS, delimiter, encoding)
    loaded = load_data(path)
    assert loaded.spec.prompt_column == "question" and loaded.spec.completion_column == "answer"
    assert [e.prompt for e in loaded.examples][:2] == ["What is EBITDA?", "What does term 0 mean?"]
    assert loaded.examples[0].completion.startswith("Earnings before interest, taxes")


def test_semicolon_csv_from_european_excel_is_split_into_its_columns(tmp_path):
    path = write_delimited(tmp_path / "semicolon.csv", QA_ROWS, ";", "utf-8")
    loaded = load_data(path)
    assert loaded.columns == ["question", "answer"]
    assert loaded.examples[0].completion.startswith("Earnings before interest, taxes")  # commas inside a field survive
    assert loaded.examples[0].line == 2


def test_tsv_and_utf8_bom_are_read(tmp_path):
    tsv = write_delimited(tmp_path / "pairs.tsv", QA_ROWS, "\t", "utf-8")
    bom = write_delimited(tmp_path / "bom.csv", QA_ROWS, ",", "utf-8-sig")
    assert load_data(tsv).columns == ["question", "answer"]
    assert load_data(bom).columns == ["question", "answer"]


def test_a_real_binary_file_is_still_refused(tmp_path):
    path = tmp_path / "sheet.csv"
    path.write_bytes(b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + bytes(range(256)) * 4)
    with pytest.raises(TrainerError, match="zip or Excel workbook, not CSV text"):
        load_data(path)
