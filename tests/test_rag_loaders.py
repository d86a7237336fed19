"""Glossary file loading: formats, column mapping, row-level errors, the real shared glossaries, the built-in data."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from rag import builtin
from rag.errors import RagError
from rag.loaders import load_file, parse_mapping
from rag.text import norm

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
FIBO = SHARED / "fibo" / "fibo_glossary_all.jsonl"
WORDNET = SHARED / "wordnet_finance" / "wordnet_finance_glossary.jsonl"


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


def test_csv_with_aliases_synonyms_and_bom(tmp_path):
    path = write(tmp_path, "my terms.csv", "\ufeffName,Description,Aliases,Topic\n"
                 "Letter of credit,A bank promise to pay a seller.,L/C; LC,banking\n"
                 '"Spread, credit","Yield difference, over treasuries.",,markets\n')
    result = load_file(path)
    assert result.columns == {"term": "Name", "definition": "Description", "synonyms": "Aliases", "category": "Topic"}
    first, second = result.entries
    assert (first.term, first.synonyms, first.category, first.source) == ("Letter of credit", ("L/C", "LC"), "banking", "my_terms")
    assert second.term == "Spread, credit" and second.definition == "Yield difference, over treasuries."


def test_explicit_mapping_and_json_shapes(tmp_path):
    rows = [{"Headword": "contango", "Gloss": "Futures above spot."}]
    path = write(tmp_path, "g.json", json.dumps({"entries": rows}))
    result = load_file(path, mapping=parse_mapping("term=Headword,definition=Gloss"), source="mine")
    assert [(e.term, e.source) for e in result.entries] == [("contango", "mine")]
    pairs = write(tmp_path, "pairs.json", json.dumps({"EBITDA": "Earnings before interest, taxes, D&A."}))
    assert load_file(pairs).entries[0].term == "EBITDA"
    with pytest.raises(RagError, match="unknown field 'meaning'"):
        parse_mapping("meaning=Gloss")
    with pytest.raises(RagError, match="'Nope' .*not in g.json"):
        load_file(path, mapping={"term": "Nope"})


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.csv", "", r"empty\.csv is empty"),
        ("blank.jsonl", "\n  \n", r"is empty"),
        ("cols.csv", "word_id,notes\n1,hello\n", r"no column for `term` and `definition`.*Found columns: word_id, notes.*--map"),
        ("one.csv", "justonecolumn\nfoo\n", r"only one column"),
        ("bin.csv", b"term,definition\n\x00\x01\x02binary", r"binary file"),
        ("sheet.csv", b"PK\x03\x04rest-of-zip", r"zip or Excel workbook"),
        ("latin.csv", "term,definition\ncaf\u00e9,a place\n".encode("latin-1"), r"not UTF-8 text \(bad byte 0xe9 on line 2\).*UTF-8"),
        ("bad.json", '[{"term": "a", "definition": "b"},', r"not valid JSON: .* line 1"),
        ("scalar.json", "42", r"not a list of entries"),
        ("garbage.jsonl", "not json\nstill not\n", r"not JSON Lines"),
    ],
)
def test_unusable_files_get_clear_messages(tmp_path, name, content, message):
    with pytest.raises(RagError, match=message):
        load_file(write(tmp_path, name, content))


def test_glossary_and_training_uploads_share_one_decoder(tmp_path):
    """Excel's UTF-16 "Unicode text" export loads as a glossary too, and a bad byte reads the same in both loaders."""
    from trainer.errors import TrainerError
    from trainer.table import read_table

    unicode_text = write(tmp_path, "excel.csv", "term,definition\nGizmo yield,A made-up yield on gizmos.\n".encode("utf-16"))
    assert [(e.term, e.definition) for e in load_file(unicode_text).entries] == [("Gizmo yield", "A made-up yield on gizmos.")]
    latin = write(tmp_path, "latin.csv", "question,answer\ncaf\u00e9,a place\n".encode("latin-1"))
    with pytest.raises(RagError) as from_glossary:
        load_file(latin)
    with pytest.raises(TrainerError) as from_upload:
        read_table(latin)
    assert str(from_glossary.value) == str(from_upload.value)


def test_a_jsonl_definition_may_hold_a_line_separator(tmp_path):
    """U+2028 is legal inside a JSON string; it must not split the row (str.splitlines would)."""
    row = json.dumps({"term": "gizmo yield", "definition": "A made-up yield\u2028on gizmos."}, ensure_ascii=False)
    assert "\u2028" in row
    loaded = load_file(write(tmp_path, "g.jsonl", row + "\n"))
    assert [(e.term, e.definition) for e in loaded.entries] == [("gizmo yield", "A made-up yield on gizmos.")]  # whitespace normalised


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(RagError, match="does not exist"):
        load_file(tmp_path / "nope.csv")
    with pytest.raises(RagError, match="is a folder"):
        load_file(tmp_path)


def test_invalid_rows_report_line_numbers(tmp_path):
    path = write(tmp_path, "rows.jsonl", '{"term": "ok", "definition": "fine"}\n'
                 '{"term": "", "definition": "no term"}\n'
                 '\n'
                 '{"term": "no def"}\n'
                 '{"term": "x", "definition": "y"\n'
                 '["a list"]\n')
    with pytest.raises(RagError) as info:
        load_file(path)
    msg = str(info.value)
    assert "4 invalid row(s)" in msg and "--skip-invalid" in msg
    assert "line 2: `term` (column 'term') is missing or empty" in msg
    assert "line 4: `definition` (column 'definition') is missing or empty" in msg
    assert "line 5: not valid JSON" in msg and "line 6: a JSON list" in msg
    result = load_file(path, skip_invalid=True)
    assert [e.term for e in result.entries] == ["ok"] and [p.line for p in result.invalid] == [2, 4, 5, 6]


def test_csv_row_errors_use_file_lines(tmp_path):
    path = write(tmp_path, "g.csv", 'term,definition\nok,"multi\nline"\nbad,\n')
    with pytest.raises(RagError, match=r"line 4: `definition`"):
        load_file(path)


def test_duplicates_dropped_and_senses_merged(tmp_path):
    path = write(tmp_path, "d.csv", "term,definition\ncredit,Money lent.\nCredit,Money lent.\ncredit,A bookkeeping entry.\n")
    result = load_file(path)
    assert len(result.entries) == 1
    assert result.entries[0].definition == "(1) Money lent. (2) A bookkeeping entry."
    assert [str(p) for p in result.duplicate_rows] == ["line 3: repeats 'Credit' from line 2"]
    assert result.merged_senses == 1


def test_all_rows_invalid_is_an_error_even_when_skipping(tmp_path):
    path = write(tmp_path, "x.csv", "term,definition\n,\n, \n")
    with pytest.raises(RagError, match="No glossary entries found"):
        load_file(path, skip_invalid=True)


@pytest.mark.skipif(not FIBO.exists(), reason=f"shared FIBO glossary not found at {FIBO} (clone shared/ beside the repo)")
def test_real_fibo_glossary_loads():
    result = load_file(FIBO)
    assert result.rows == 5300 and not result.invalid
    assert result.columns["category"] == "module"
    assert len(result.entries) + result.merged_senses + len(result.duplicate_rows) == 5300
    terms = {norm(e.term) for e in result.entries}
    assert "letter of credit" in terms


@pytest.mark.skipif(not WORDNET.exists(), reason=f"shared WordNet glossary not found at {WORDNET}")
def test_real_wordnet_glossary_merges_senses():
    result = load_file(WORDNET)
    assert result.rows == 1173 and not result.invalid and result.merged_senses > 0
    credit = [e for e in result.entries if e.term == "credit"]
    assert len(credit) == 1 and credit[0].definition.startswith("(1) ")


# ----- the built-in glossary ---------------------------------------------------------------------------
def test_builtin_glossary_is_rich_and_clean():
    entries = builtin.load()
    assert len(entries) >= 300
    assert {e.category for e in entries} == set(builtin.CATEGORIES)
    assert len({norm(e.term) for e in entries}) == len(entries), "duplicate terms in rag/data/glossary.jsonl"
    for e in entries:
        sentences = len(re.findall(r"[.!?](\s|$)", e.definition))
        assert 1 <= sentences <= 3, f"{e.term}: definitions are one to three sentences"
        assert e.source == "builtin"
    synonyms = {s for e in entries for s in e.synonyms}
    for abbr in ("L/C", "EBITDA", "P/E", "ROE", "CDS", "VaR", "WACC", "CET1", "KYC"):
        assert abbr in synonyms or abbr in {e.term for e in entries}, abbr
