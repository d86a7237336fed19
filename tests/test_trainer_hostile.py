"""Hostile uploads: each gets a clear message naming the problem and the fix; nothing crashes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from trainer.data import UploadLimits, load_data
from trainer.errors import TrainerError
from trainer.validate import validate


@pytest.fixture(scope="module")
def tiny_tokenizer(tmp_path_factory):
    from transformers import AutoTokenizer

    from trainer.testing import tiny_model_dir

    return AutoTokenizer.from_pretrained(tiny_model_dir(tmp_path_factory.mktemp("tiny")))


def expect_error(path: Path, pattern: str, **kw) -> str:
    with pytest.raises(TrainerError) as info:
        load_data(path, **kw)
    assert pytest.importorskip("re").search(pattern, str(info.value)), str(info.value)
    return str(info.value)


def test_empty_file(tmp_path):
    (tmp_path / "empty.csv").write_bytes(b"")
    expect_error(tmp_path / "empty.csv", r"empty \(0 bytes\).*at least")


def test_whitespace_only(tmp_path):
    (tmp_path / "blank.jsonl").write_text("\n\n   \n")
    expect_error(tmp_path / "blank.jsonl", r"only whitespace")


def test_header_only(tmp_path):
    (tmp_path / "header.csv").write_text("question,answer\n")
    expect_error(tmp_path / "header.csv", r"header but no data rows")


def test_wrong_columns(tmp_path):
    (tmp_path / "wrong.csv").write_text("foo,bar\n1,2\n3,4\n")
    expect_error(tmp_path / "wrong.csv", r"Could not tell which columns.*\['foo', 'bar'\].*column mapping")


def test_binary_file(tmp_path):
    (tmp_path / "bin.csv").write_bytes(bytes(range(256)) * 40)
    expect_error(tmp_path / "bin.csv", r"binary file")


def test_fake_parquet(tmp_path):
    (tmp_path / "fake.parquet").write_text("question,answer\na,b\n")
    expect_error(tmp_path / "fake.parquet", r"not a valid Parquet")


def test_unsupported_extension(tmp_path):
    (tmp_path / "data.xlsx").write_bytes(b"PK\x03\x04")
    expect_error(tmp_path / "data.xlsx", r"CSV, TSV, JSON, JSONL or Parquet")


def test_non_utf8(tmp_path):
    (tmp_path / "latin.csv").write_bytes("question,answer\nwhat?,ok\nco\xfbt?,cher\n".encode("latin-1"))
    message = expect_error(tmp_path / "latin.csv", r"not UTF-8.*line 3.*UTF-8")
    assert "0xfb" in message


def test_malformed_json(tmp_path):
    (tmp_path / "bad.jsonl").write_text('{"question": "a", "answer": "b"}\n{"question": "c", "answer": \n')
    expect_error(tmp_path / "bad.jsonl", r"Could not parse .*JSONL")


def test_ten_thousand_token_row_is_flagged_not_fatal(tmp_path, tiny_tokenizer):
    rows = [{"question": f"q{i}", "answer": f"a{i}"} for i in range(12)]
    rows.append({"question": "word " * 10_000, "answer": "long"})
    (tmp_path / "long.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    report = validate(load_data(tmp_path / "long.jsonl"), tiny_tokenizer, max_seq_length=512)
    assert report.ok
    issue = next(i for i in report.issues if i.kind == "too_long")
    assert issue.line == 13 and "truncated" in issue.message and max(report.token_lengths) >= 10_000


def test_fifty_megabyte_file(tmp_path):
    path = tmp_path / "big.csv"
    line = ("q" * 90 + "," + "a" * 9 + "\n").encode()
    with open(path, "wb") as handle:
        handle.write(b"question,answer\n")
        handle.write(line * (50_000_000 // len(line) + 1))
    assert path.stat().st_size > 50_000_000
    expect_error(path, r"50\.0 MB; the limit is 25 MB.*sample")
    assert path.exists()  # the upload is kept


def test_too_many_rows(tmp_path):
    path = tmp_path / "many.csv"
    path.write_text("question,answer\n" + "".join(f"q{i},a{i}\n" for i in range(300)))
    expect_error(path, r"300 rows; the limit is 100", limits=UploadLimits(max_rows=100))


def test_duplicate_only(tmp_path, tiny_tokenizer):
    path = tmp_path / "dups.csv"
    path.write_text("question,answer\n" + "same?,same\n" * 50)
    report = validate(load_data(path), tiny_tokenizer)
    assert not report.ok
    text = report.summary()
    assert "Every row is a copy" in text or "usable row" in text
    assert sum(1 for i in report.issues if i.kind == "duplicate") >= 49


def test_all_rows_empty(tmp_path, tiny_tokenizer):
    path = tmp_path / "empties.csv"
    path.write_text("question,answer\n" + ",\n" * 20)
    report = validate(load_data(path), tiny_tokenizer)
    assert not report.ok and report.n_usable == 0
    assert all(i.line for i in report.issues if i.kind in ("missing", "empty"))
