"""Knowledge tab: search the glossary index, browse its entries, upload a glossary, see entries per source."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from ui.errors import user_errors

ALL_SOURCES = "All sources"
PAGE_SIZE = 50
RESULT_HEADERS = ["#", "term", "source", "score", "definition"]
BROWSE_HEADERS = ["term", "synonyms", "category", "source", "definition"]
UPLOAD_TYPES = [".csv", ".tsv", ".json", ".jsonl"]


# ----- handlers (plain functions of `shared`, so they are testable without a browser) -------------------
def stats_markdown(shared) -> str:
    stats = shared.glossary().stats()
    lines = [f"**{stats['entries']:,} entries** · encoder `{stats['encoder']}` · {stats['index_type']} index", "",
             "| source | entries | imported from |", "|---|---:|---|"]
    for name, count in sorted(stats["sources"].items(), key=lambda kv: (kv[0] != "builtin", kv[0])):
        origin = "built-in glossary" if name == "builtin" else Path((stats["imports"].get(name) or {}).get("file", "")).name
        lines.append(f"| {name} | {count:,} | {origin} |")
    notices = getattr(shared.glossary(), "notices", [])
    if notices:
        lines += ["", *[f"> ⚠️ {n}" for n in notices]]
    return "\n".join(lines)


def source_choices(shared) -> list[str]:
    return [ALL_SOURCES, *sorted(shared.glossary().sources(), key=lambda s: (s != "builtin", s))]


def search_table(shared, query: str, k: float = 5) -> tuple[list[list], str]:
    glossary = shared.glossary()
    hits = glossary.search(query or "", int(k))
    rows = [[i, h.term, h.source, round(h.score, 3), h.definition] for i, h in enumerate(hits, 1)]
    if not hits:
        return rows, f"No relevant definition for **{query.strip()}** (nothing scored above {glossary.config.threshold:.2f})."
    return rows, f"{len(hits)} definition(s); score = cosine similarity + {glossary.config.lexical_weight:g} × exact term/synonym match."


def browse_table(shared, source: str | None, contains: str = "", page: float = 1) -> tuple[list[list], str]:
    glossary = shared.glossary()
    chosen = None if not source or source == ALL_SOURCES else source
    matching = glossary.entries(source=chosen, contains=(contains or "").strip() or None)
    pages = max(1, -(-len(matching) // PAGE_SIZE))
    page = min(max(int(page or 1), 1), pages)
    shown = matching[(page - 1) * PAGE_SIZE: page * PAGE_SIZE]
    rows = [[e.term, "; ".join(e.synonyms), e.category, e.source, e.definition] for e in shown]
    return rows, f"{len(matching):,} matching entries · page {page} of {pages}"


def import_upload(shared, file, source: str = "", mapping: str = "", skip_invalid: bool = False, progress=None) -> str:
    from rag.errors import RagError

    if not file:
        raise RagError("No file uploaded. Drop a .csv, .tsv, .json or .jsonl glossary with term and definition columns.")
    path = file if isinstance(file, str) else getattr(file, "name", None) or getattr(file, "path", "")

    def report(done: int, total: int, desc: str) -> None:
        if progress is not None:
            progress((done, total), desc=desc)

    report_ = shared.glossary().import_file(path, source=(source or "").strip() or None, mapping=(mapping or "").strip() or None,
                                            skip_invalid=bool(skip_invalid), progress=report)
    text = f"✅ {report_.summary()}"
    if report_.problems:
        text += "\n\nSkipped rows:\n" + "\n".join(f"- {p}" for p in report_.problems)
    return text


# ----- layout ------------------------------------------------------------------------------------------------
@dataclass
class KnowledgeTab:
    stats: gr.Markdown
    query: gr.Textbox
    results: gr.Dataframe
    source: gr.Dropdown
    upload: gr.File
    import_status: gr.Markdown

    def wire_page_load(self, demo: gr.Blocks, shared) -> None:
        """Refresh the counts and the source list whenever the page opens."""
        demo.load(user_errors(lambda: (stats_markdown(shared), gr.Dropdown(choices=source_choices(shared)))), None, [self.stats, self.source])


def build(shared) -> KnowledgeTab:
    """Lay out the Knowledge tab inside an enclosing ``gr.Tab``."""
    gr.Markdown("Definitions the chat can cite when **use glossary** is on. Search works with terms, abbreviations and questions.")
    stats = gr.Markdown("*Loading the glossary index…*", elem_id="kb-stats")
    with gr.Row():
        query = gr.Textbox(label="Search the glossary", placeholder="e.g. What is a letter of credit?  ·  L/C  ·  contango",
                           scale=5, elem_id="kb-query")
        k = gr.Slider(1, 20, value=5, step=1, label="Results", scale=1, elem_id="kb-k")
        search = gr.Button("Search", variant="primary", scale=1, elem_id="kb-search")
    search_info = gr.Markdown(elem_id="kb-search-info")
    results = gr.Dataframe(headers=RESULT_HEADERS, value=[], interactive=False, wrap=True, elem_id="kb-results",
                           column_widths=["5%", "20%", "15%", "8%", "52%"])

    with gr.Accordion("Browse entries", open=False):
        with gr.Row():
            source = gr.Dropdown(choices=[ALL_SOURCES], value=ALL_SOURCES, label="Source", scale=2, elem_id="kb-source")
            contains = gr.Textbox(label="Filter", placeholder="word in term, synonym or definition", scale=3, elem_id="kb-filter")
            page = gr.Number(value=1, minimum=1, precision=0, label="Page", scale=1, elem_id="kb-page")
            browse = gr.Button("Show", scale=1, elem_id="kb-browse")
        browse_info = gr.Markdown(elem_id="kb-browse-info")
        table = gr.Dataframe(headers=BROWSE_HEADERS, value=[], interactive=False, wrap=True, max_height=480, elem_id="kb-table")

    with gr.Accordion("Upload a glossary", open=False):
        gr.Markdown("CSV/TSV with a header row, a JSON list of objects, or JSON Lines. Columns named like *term* and "
                    "*definition* are found automatically (plus optional *synonyms*, *category*); otherwise map them below.")
        with gr.Row():
            upload = gr.File(label="Glossary file", file_types=UPLOAD_TYPES, type="filepath", scale=3, elem_id="kb-upload")
            with gr.Column(scale=2):
                upload_source = gr.Textbox(label="Source name", placeholder="default: the file name", elem_id="kb-upload-source")
                mapping = gr.Textbox(label="Column mapping (optional)", placeholder="term=Name, definition=Gloss", elem_id="kb-upload-map")
                skip_invalid = gr.Checkbox(label="Skip invalid rows instead of refusing the file", value=False)
                do_import = gr.Button("Import", variant="primary", elem_id="kb-import")
        import_status = gr.Markdown(elem_id="kb-import-status")

    def _search(q, kk):
        return search_table(shared, q, kk)

    def _browse(src, text, pg):
        return browse_table(shared, src, text, pg)

    def _import(file, src, mp, skip, progress=gr.Progress()):
        status = import_upload(shared, file, src, mp, skip, progress)
        return status, stats_markdown(shared), gr.Dropdown(choices=source_choices(shared))

    for trigger in (search.click, query.submit):
        trigger(user_errors(_search), [query, k], [results, search_info])
    for trigger in (browse.click, contains.submit, source.change):
        trigger(user_errors(_browse), [source, contains, page], [table, browse_info])
    do_import.click(user_errors(_import), [upload, upload_source, mapping, skip_invalid], [import_status, stats, source])
    return KnowledgeTab(stats, query, results, source, upload, import_status)
