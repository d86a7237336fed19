"""Chat tab with a fake engine and glossary: glossary on by default once an index exists, answers through
rag.answer, and each grounded answer's plain text and hits kept in state (not parsed back out of markdown)."""

from __future__ import annotations

from functools import partial

import gradio as gr
import pytest

from rag.entries import Hit
from ui import chat_tab

EBITDA = Hit("EBITDA", "Earnings before interest, taxes, depreciation and amortisation.", "builtin", 1.4, match="term")


class Glossary:
    def search_many(self, queries, k=5):
        return [[EBITDA] if "ebitda" in q.lower() and len(q.split()) <= 4 else [] for q in queries]


class Engine:
    def __init__(self):
        self.calls = []

    def stream(self, messages, settings=None, adapter=None):
        self.calls.append(messages)
        yield "Sure."


class Shared:
    def __init__(self):
        self._engine, self._glossary = Engine(), Glossary()

    def engine(self):
        return self._engine

    def glossary(self):
        return self._glossary


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("FINTUNE_HOME", str(tmp_path))
    return tmp_path


def _answer_fn(shared):
    return partial(chat_tab.answer, shared)


def test_glossary_is_on_by_default_once_an_index_exists_and_says_so(home):
    assert chat_tab.glossary_index_exists() is False
    with gr.Blocks():
        tab = chat_tab.build(Shared())
    assert tab.use_glossary.value is False and "Glossary: off" in tab.glossary_note.value
    (home / "kb").mkdir(exist_ok=True)
    (home / "kb" / "CURRENT").write_text("v-1")
    with gr.Blocks():
        tab = chat_tab.build(Shared())
    assert tab.use_glossary.value is True and "Glossary: on" in tab.glossary_note.value


def test_grounded_answers_keep_their_hits_in_state_and_are_sent_back_as_plain_text(home, monkeypatch):
    monkeypatch.setattr("rag.answer.minilm_similarity", lambda name=None: lambda sentence, sources: 0.0)
    shared = Shared()
    answer = _answer_fn(shared)
    history = [{"role": "user", "content": "What is EBITDA?"}]
    history, grounded = list(answer(history, "", True, "Be brief.", 0.7, 0.9, 64, {}))[-1]
    shown = history[-1]["content"]
    assert shown.startswith("EBITDA: Earnings before interest") and "**Sources**" in shown and "1. **EBITDA**" in shown
    assert grounded == {"1": {"text": f"EBITDA: {EBITDA.definition} [1]", "kind": "definition", "hits": [EBITDA.to_dict()]}}

    history = history + [{"role": "user", "content": "Thanks, and how are markets today?"}]
    history, grounded = list(answer(history, "", True, "Be brief.", 0.7, 0.9, 64, grounded))[-1]
    sent = shared._engine.calls[-1]
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "user"]
    assert sent[2]["content"] == f"EBITDA: {EBITDA.definition} [1]", "the model sees the answer, not the rendered sources"
    assert grounded["3"]["kind"] == "model" and "model's own answer" in history[-1]["content"]

    # regenerating the first answer drops what was recorded for later turns
    _, grounded = list(answer(history[:1], "", True, "", 0.7, 0.9, 64, grounded))[-1]
    assert set(grounded) == {"1"}


def test_glossary_off_is_the_plain_model(home):
    shared = Shared()
    history, grounded = list(_answer_fn(shared)([{"role": "user", "content": "What is EBITDA?"}], "", False, "", 0.7, 0.9, 64, {}))[-1]
    assert history[-1]["content"] == "Sure." and grounded == {}
    assert shared._engine.calls[-1] == [{"role": "user", "content": "What is EBITDA?"}]
