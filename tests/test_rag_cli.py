"""`fintune kb ...` end to end through the real CLI entry point (error handling included)."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest

import fintune.cli
from rag import Glossary

pytestmark = pytest.mark.slow


@pytest.fixture
def home(builtin_kb, tmp_path, monkeypatch) -> Path:
    home = tmp_path / "home"
    shutil.copytree(builtin_kb, home / "kb")
    monkeypatch.setenv("FINTUNE_HOME", str(home))
    monkeypatch.setattr(fintune.cli, "_COMMAND_MODULES", ("rag.cli",))  # only this package's commands
    return home


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = fintune.cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_search_json_puts_the_right_entry_first(home, capsys):
    code, out, _ = run(capsys, "kb", "search", "What is a letter of credit?", "--json")
    result = json.loads(out)
    assert code == 0 and result["query"] == "What is a letter of credit?"
    first = result["hits"][0]
    assert first["term"] == "letter of credit" and first["source"] == "builtin" and first["score"] > 1
    assert set(first) == {"term", "definition", "source", "score"}


def test_search_text_and_no_match(home, capsys):
    code, out, _ = run(capsys, "kb", "search", "L/C", "--k", "1")
    assert code == 0 and out.startswith("1. letter of credit  [builtin]  score")
    code, out, _ = run(capsys, "kb", "search", "Who is Taylor Swift?")
    assert code == 0 and "No relevant definition" in out


def test_search_stdin_writes_one_json_line_per_query(home, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("What is a letter of credit?\n\nbond issuer\nrecipe for banana bread\n"))
    code, out, _ = run(capsys, "kb", "search", "-", "--json", "--k", "2")
    lines = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [r["query"] for r in lines] == ["What is a letter of credit?", "bond issuer", "recipe for banana bread"]
    assert lines[0]["hits"][0]["term"] == "letter of credit" and lines[1]["hits"][0]["term"] == "bond issuer"
    assert lines[2]["hits"] == [] and all(len(r["hits"]) <= 2 for r in lines)


def test_import_stats_and_bad_file(home, capsys, tmp_path):
    good = tmp_path / "desk.csv"
    good.write_text("Name,Gloss\nGizmo yield,A made-up yield on gizmos.\n", encoding="utf-8")
    code, out, _ = run(capsys, "kb", "import", str(good), "--map", "term=Name", "--map", "definition=Gloss", "--source", "desk")
    assert code == 0 and "Added 1 entries from desk.csv as source 'desk'" in out
    code, out, _ = run(capsys, "kb", "import", str(good), "--map", "term=Name,definition=Gloss", "--source", "desk", "--json")
    assert code == 0 and json.loads(out)["skipped_existing"] == 1
    bad = tmp_path / "bad.csv"
    bad.write_bytes("term,definition\ncaf\u00e9,x\n".encode("latin-1"))
    code, out, err = run(capsys, "kb", "import", str(bad))
    assert code == 1 and err.startswith("error: 'bad.csv' is not UTF-8") and "Traceback" not in err
    code, out, _ = run(capsys, "kb", "stats", "--json")
    stats = json.loads(out)
    assert code == 0 and stats["sources"]["desk"] == 1 and stats["entries"] == stats["sources"]["builtin"] + 1
    code, out, _ = run(capsys, "kb", "stats")
    assert "desk" in out and "Encoder: all-MiniLM-L6-v2" in out


def test_build_keeps_imports_unless_reset(home, capsys, tmp_path):
    (tmp_path / "d.jsonl").write_text('{"term": "Gizmo yield", "definition": "Made up."}\n', encoding="utf-8")
    assert run(capsys, "kb", "import", str(tmp_path / "d.jsonl"))[0] == 0
    code, out, _ = run(capsys, "kb", "build")
    assert code == 0 and "d: 1" in out
    code, out, _ = run(capsys, "kb", "build", "--reset")
    assert code == 0 and "d: 1" not in out and "builtin" in out
