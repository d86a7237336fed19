"""The `fintune` command as a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest


def run_cli(*args, env=None, timeout=600, stdin=None):
    return subprocess.run([sys.executable, "-m", "fintune", *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})}, input=stdin)


def test_help_is_fast_and_lists_the_commands():
    started = time.perf_counter()
    result = run_cli("--help")
    assert result.returncode == 0
    for command in ("serve", "chat", "models", "advise", "kb", "train", "runs", "eval"):
        assert command in result.stdout
    assert time.perf_counter() - started < 10, "help must not import torch"


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
def test_models_list_and_verify(real_model_path):
    listed = run_cli("models", "list", "--json")
    assert '"provisioned": true' in listed.stdout
    verified = run_cli("models", "verify")
    assert verified.returncode == 0 and "matches its manifest" in verified.stdout
