"""The Knowledge tab: layout builds under Gradio 6 and its handlers turn glossary results into tables."""

from __future__ import annotations

import shutil
from pathlib import Path

import gradio as gr
import pytest

from rag import Glossary, RagError
from ui import knowledge_tab

pytestmark = pytest.mark.slow


class Shared:
    def __init__(self, root: Path) -> None:
        self._glossary = Glossary.open(root)

    def glossary(self) -> Glossary:
        return self._glossary


@pytest.fixture
def shared(builtin_kb, tmp_path) -> Shared:
    shutil.copytree(builtin_kb, tmp_path / "kb")
    return Shared(tmp_path / "kb")


def test_tab_builds_inside_blocks(shared):
    with gr.Blocks() as demo:
        with gr.Tab("Knowledge"):
            tab = knowledge_tab.build(shared)
        tab.wire_page_load(demo, shared)
    assert isinstance(tab.results, gr.Dataframe) and isinstance(tab.upload, gr.File)


def test_search_browse_import_and_stats(shared, tmp_path):
    rows, info = knowledge_tab.search_table(shared, "What does L/C stand for?", 3)
    assert rows[0][1] == "letter of credit" and rows[0][2] == "builtin" and "score" in info
    rows, info = knowledge_tab.search_table(shared, "recipe for banana bread", 3)
    assert rows == [] and "No relevant definition" in info
    rows, info = knowledge_tab.browse_table(shared, knowledge_tab.ALL_SOURCES, "letter of credit", 1)
    assert {r[0] for r in rows} >= {"letter of credit", "standby letter of credit"} and "page 1 of 1" in info
    path = tmp_path / "my glossary.csv"
    path.write_text("term,definition\nGizmo yield,A made-up yield on gizmos.\n", encoding="utf-8")
    status = knowledge_tab.import_upload(shared, str(path))
    assert "Added 1 entries" in status and "my_glossary" in knowledge_tab.source_choices(shared)
    md = knowledge_tab.stats_markdown(shared)
    assert "| my_glossary | 1 | my glossary.csv |" in md and "| builtin |" in md
    with pytest.raises(RagError, match="No file uploaded"):
        knowledge_tab.import_upload(shared, None)
    with pytest.raises(gr.Error):  # the wrapped handler shows RagError as gr.Error
        from ui.errors import user_errors

        user_errors(knowledge_tab.search_table)(shared, "   ", 5)
