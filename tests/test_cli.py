"""The `fintune` command as a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


def run_cli(*args, env=None, timeout=600, stdin=None):
    return subprocess.run([sys.executable, "-m", "fintune", *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})}, input=stdin)


def test_help_lists_the_commands_without_importing_heavy_libraries():
    result = run_cli("--help")
    assert result.returncode == 0 and result.stderr == ""
    for command in ("serve", "chat", "models", "advise", "kb", "train", "runs", "eval"):
        assert command in result.stdout
    probe = subprocess.run(
        [sys.executable, "-c", "import sys\nfrom fintune.cli import build_parser\nbuild_parser()\n"
         "heavy = sorted(m for m in ('torch', 'transformers', 'peft', 'trl', 'sentence_transformers', 'faiss', 'bitsandbytes', 'datasets') if m in sys.modules)\n"
         "print(','.join(heavy))"], capture_output=True, text=True, timeout=120)
    assert probe.returncode == 0 and probe.stdout.strip() == "", f"building the CLI imported: {probe.stdout}"


@pytest.mark.slow
@pytest.mark.parametrize("args", [("advise", "Classify financial tweets as bearish, bullish or neutral"),
                                  ("kb", "search", "EBITDA")])
def test_commands_print_only_their_own_output(tmp_home, args):
    result = run_cli(*args, env={"FINTUNE_HOME": str(tmp_home)})
    assert result.returncode == 0, result.stderr
    noise = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert noise == [], f"library noise on stderr: {noise[:3]}"
    assert result.stdout.strip()


def test_a_malformed_jsonl_shows_only_fintunes_message(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "a", "answer": "b"}\n{"question": "c", answer\n', encoding="utf-8")
    result = run_cli("train", str(bad), "--dry-run")
    assert result.returncode == 1
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: Could not parse 'bad.jsonl' as JSONL"), lines


def test_errors_are_one_line_without_traceback():
    result = run_cli("serve", "--host", "0.0.0.0", env={"FINTUNE_AUTH": ""})
    assert result.returncode == 1
    assert result.stderr.startswith("error: --host 0.0.0.0 would expose") and "Traceback" not in result.stderr


@pytest.mark.slow
def test_chat_answers_from_the_terminal_using_the_cache(real_model_path):
    result = run_cli("chat", "What is EBITDA?", "--temperature", "0", "--max-new-tokens", "24")
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.split()) >= 8
    assert "Downloading" not in result.stderr, "a second run must load from the cache"


@pytest.mark.slow
def test_chat_with_the_glossary_quotes_the_definition_and_cites_it(real_model_path):
    result = run_cli("chat", "What does L/C stand for?", "--glossary", "--max-new-tokens", "24")
    assert result.returncode == 0, result.stderr
    first, _, rest = result.stdout.partition("\n")
    assert first.startswith("letter of credit: ") and first.endswith("[1]"), "the definition comes first, cited"
    assert "**Sources**" in rest and "1. **letter of credit** — builtin" in rest


@pytest.mark.slow
def test_models_list_and_verify(real_model_path):
    listed = run_cli("models", "list", "--json")
    assert '"provisioned": true' in listed.stdout
    verified = run_cli("models", "verify")
    assert verified.returncode == 0 and "matches its manifest" in verified.stdout
