"""Compare tab with a fake engine and glossary: three panes, honest base pane, blind mode, evaluation view."""

from __future__ import annotations

import json
from functools import partial
import re
import sys

import gradio as gr
import pytest

from fintune.engine import GenerationSettings
from fintune.errors import FinTuneError
from rag.entries import Hit
from tests.test_eval_report import CLS_ROWS, FakeEngine, base_cls, exact_similarity, tuned_cls
from trainer import evaluate as ev
from trainer import registry
from ui import compare_tab as ct


class StreamEngine:
    """Streams a canned answer per model and records what each call got."""

    def __init__(self):
        self.calls = []

    def stream(self, messages, settings=None, adapter=None):
        self.calls.append({"messages": messages, "settings": settings, "adapter": adapter})
        if adapter is None and messages[-1]["content"].startswith("Definition:"):  # rag.prompting.explain_messages
            words = ["It", "means", "operating", "earnings", "before", "interest", "and", "taxes."]  # 6/8 words supported
        else:
            words = ["tuned", "answer"] if adapter else ["base", "answer"]
        for w in words:
            yield w + " "

    def score_labels(self, conversations, labels, adapter=None, batch_size=8, progress=None):
        """A classification run's panes score its labels (trainer.predict) instead of streaming free text."""
        from fintune.label_scoring import LabelScores

        self.calls.append({"messages": conversations[0], "labels": labels, "adapter": adapter})
        return [LabelScores(list(labels), [0.0] + [-2.0] * (len(labels) - 1)) for _ in conversations]

    def score_label(self, conversation, labels, adapter=None):
        return self.score_labels([conversation], labels, adapter)[0]


EBITDA = Hit("EBITDA", "Earnings before interest, taxes, depreciation and amortisation: operating earnings.", "builtin", 1.4, match="term")


class FakeGlossary:
    """Stands in for ``shared.glossary()``; the real ``rag.prompting`` turns its hits into the RAG pane's prompt."""

    def __init__(self, fail=False):
        self.fail = fail

    def search_many(self, queries, k=5):
        if self.fail:
            raise FinTuneError("The glossary index is missing. Build it with `fintune kb build`.")
        return [[EBITDA][:k] for _ in queries]


class FakeShared:
    def __init__(self, glossary_fails=False):
        self._engine = StreamEngine()
        self._glossary = FakeGlossary(glossary_fails)

    def engine(self):
        return self._engine

    def glossary(self):
        return self._glossary


@pytest.fixture(autouse=True)
def word_overlap_similarity(monkeypatch):
    """The answer path's support check without loading MiniLM (rag.answer is tested on its own)."""
    def similarity(sentence, sources):
        words = set(re.findall(r"\w+", sentence.lower()))
        return max(len(words & set(re.findall(r"\w+", s.lower()))) / len(words) for s in sources)

    monkeypatch.setattr("rag.answer.minilm_similarity", lambda name=None: similarity)


GROUNDED = f"EBITDA: {EBITDA.definition} [1]\n\nIt means operating earnings before interest and taxes."


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("FINTUNE_HOME", str(tmp_path))
    return tmp_path


def make_registered_run(evaluated=True):
    folder = registry.create_run({"name": "sentiment", "base_model": "fake", "task": "classification", "labels": ["bearish", "bullish", "neutral"]})
    registry.write_jsonl(folder / "data" / "val.jsonl", CLS_ROWS)
    (folder / "adapter").mkdir()
    (folder / "adapter" / "adapter_config.json").write_text("{}")
    registry.update_record(folder, status="completed")
    if evaluated:
        ev.evaluate_run(folder, config=ev.EvalConfig(regression=True), engine=FakeEngine(base_cls, tuned_cls), similarity=exact_similarity)
    return folder


def test_compare_stream_three_panes_same_settings_base_without_adapter():
    shared = FakeShared()
    settings = GenerationSettings(temperature=0)
    frames = list(ct.compare_stream(shared, "What is EBITDA?", "/runs/x/adapter", settings))
    texts, sources = frames[-1]
    assert texts == ["base answer", "tuned answer", GROUNDED]  # the glossary pane states the definition first, cited
    assert "1. **EBITDA** — builtin" in sources
    calls = shared._engine.calls
    assert [c["adapter"] for c in calls] == [None, "/runs/x/adapter", None]  # base and RAG panes: adapters off
    assert calls[0]["settings"] is calls[1]["settings"] is settings
    assert calls[2]["settings"].temperature == 0 and calls[2]["settings"].repetition_penalty == settings.repetition_penalty
    assert calls[0]["messages"] == calls[1]["messages"] == [{"role": "user", "content": "What is EBITDA?"}]
    # streamed: pane 2 is still waiting while pane 1 fills
    assert any(f[0][0] == "base " and f[0][1] == ct.WAITING for f in frames)


def test_compare_stream_follows_pane_order_and_isolates_failures():
    shared = FakeShared(glossary_fails=True)
    texts, _ = list(ct.compare_stream(shared, "q", "/a", GenerationSettings(), order=["rag", "base", "tuned"]))[-1]
    assert texts[0].startswith("⚠ The glossary index is missing")
    assert texts[1:] == ["base answer", "tuned answer"]


def test_compare_stream_without_a_run():
    texts, _ = list(ct.compare_stream(FakeShared(), "q", None, GenerationSettings()))[-1]
    assert texts[1] == ct.NO_RUN and texts[0] == "base answer"


def test_blind_order_and_labels():
    import random

    order = ct.pane_order(True, random.Random(3))
    assert sorted(order) == sorted(ct.KINDS)
    assert ct.pane_order(False) == list(ct.KINDS)
    assert ct.pane_labels(order, True, False, "run") == ["Answer A", "Answer B", "Answer C"]
    revealed = ct.pane_labels(["rag", "base", "tuned"], True, True, "my-run")
    assert revealed == ["Answer A = Base + glossary (RAG)", "Answer B = Base model (adapters off)", "Answer C = Fine-tuned: my-run"]
    assert ct.pane_labels(list(ct.KINDS), False, False, "r")[0] == "Base model (adapters off)"




def test_build_shows_runs_and_evaluation(home):
    folder = make_registered_run()
    shared = FakeShared()
    with gr.Blocks() as demo:
        with gr.Tab("Compare"):
            tab = ct.build(shared)
    ids = {b.elem_id for b in demo.blocks.values()}
    assert set(ct.PANE_IDS) <= ids and {"compare-eval-table", "compare-confusion", "compare-blind", "compare-run"} <= ids
    run_id = folder.name
    assert tab.run.value == run_id
    summary, table, image, examples, regression = ct.load_eval_view(run_id)
    assert list(table["metric"])[:2] == ["accuracy", "macro-F1"]
    assert image is not None and image.size[0] > 100
    assert "Expected narrowing" in summary  # the classification adapter answers labels to general questions
    assert len(examples) > 0 and len(regression) == len(ev.load_regression_questions())

    # blind mode through the real handlers: names hidden, sources held back, then revealed
    answer = partial(ct.answer, shared)
    frames = list(answer("What is EBITDA?", run_id, True, 0.0, 0.9, 64, 1.1))
    *pane_updates, sources_md, order, name, held, reveal_btn = frames[-1]
    assert [p.label for p in pane_updates] == ["Answer A", "Answer B", "Answer C"]
    assert sources_md == "" and "EBITDA" in held and reveal_btn.visible is True
    by_kind = dict(zip(order, [p.value for p in pane_updates]))
    assert by_kind["rag"] == GROUNDED
    # the run is a classifier: base and tuned both answer with a scored label, not free text
    assert by_kind["base"].startswith("**bearish** (") and by_kind["tuned"].startswith("**bearish** (")
    assert "classifier over bearish, bullish, neutral" in by_kind["tuned"]
    *labels, shown_sources, btn = ct.do_reveal(order, name, held)
    assert all("=" in lab.label for lab in labels) and shown_sources == held and btn.visible is False
    tuned_pane = order.index("tuned")
    assert labels[tuned_pane].label.endswith("Fine-tuned: sentiment")


def test_unevaluated_run_and_no_run(home):
    folder = make_registered_run(evaluated=False)
    summary, table, image, *_ = ct.load_eval_view(folder.name)
    assert "No evaluation yet" in summary and image is None and len(table) == 0
    assert "Pick a fine-tuned run" in ct.load_eval_view(None)[0]
    choices = ct.run_choices()
    assert choices and choices[0][1] == folder.name


def test_blind_mode_needs_a_run(home):
    answer = partial(ct.answer, FakeShared())
    with pytest.raises(gr.Error, match="Blind mode needs"):
        list(answer("q", None, True, 0.0, 0.9, 64, 1.1))
    with pytest.raises(gr.Error, match="Type a question"):
        list(answer("  ", None, False, 0.0, 0.9, 64, 1.1))
