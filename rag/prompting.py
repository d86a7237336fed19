"""RAG prompts: the retrieved definitions go into a short prompt; ``format_sources`` renders the citations.

SmolLM2-135M is tiny, so the prompt is short: a one-paragraph instruction and the top 3 definitions.
"""

from __future__ import annotations

from typing import Any, Sequence

from rag.entries import Hit

MAX_DEFINITIONS = 3
MAX_HISTORY_MESSAGES = 4
MAX_DEFINITION_CHARS = 600

SYSTEM_PROMPT = (
    "You are a concise finance assistant. Answer the user's question using only the numbered glossary "
    "definitions provided. Mention the term you are defining. If the definitions do not cover the question, "
    "say that the glossary has no definition for it instead of guessing."
)
NO_DEFINITIONS = "(No glossary definition matched this question.)"


def _text(content: Any) -> str:
    """Message content as plain text (Gradio may send a list of parts or a dict)."""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        return str(content.get("text") or content.get("content") or "")
    if isinstance(content, (list, tuple)):
        return " ".join(_text(part) for part in content if part is not None).strip()
    return "" if content is None else str(content)


def _clip(text: str, limit: int = MAX_DEFINITION_CHARS) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


def context_block(hits: Sequence[Hit], max_definitions: int = MAX_DEFINITIONS) -> str:
    """The numbered definitions as they appear in the prompt."""
    if not hits:
        return NO_DEFINITIONS
    lines = []
    for i, hit in enumerate(list(hits)[:max_definitions], 1):
        syn = f" ({', '.join(hit.synonyms[:3])})" if hit.synonyms else ""
        lines.append(f"[{i}] {hit.term}{syn}: {_clip(hit.definition)}")
    return "\n".join(lines)


def build_messages(question: str, hits: Sequence[Hit], history: Sequence[dict] | None = None,
                   max_definitions: int = MAX_DEFINITIONS) -> list[dict[str, str]]:
    """Chat messages for a glossary-grounded answer: system rules, the last few turns, then definitions + question."""
    messages = [{"role": "system", "content": SYSTEM_PROMPT}]
    recent = [m for m in (history or []) if isinstance(m, dict) and m.get("role") in ("user", "assistant")]
    for message in recent[-MAX_HISTORY_MESSAGES:]:
        text = _text(message.get("content"))
        if text:
            messages.append({"role": message["role"], "content": text})
    block = context_block(hits, max_definitions)
    messages.append({"role": "user", "content": f"Glossary definitions:\n{block}\n\nQuestion: {str(question).strip()}"})
    return messages


def _md(text: str) -> str:
    for ch in "\\`*_[]<>|":
        text = text.replace(ch, "\\" + ch)
    return text


def format_sources(hits: Sequence[Hit], max_definitions: int = MAX_DEFINITIONS) -> str:
    """Markdown shown under an answer: which definitions it was given (term, source, score)."""
    if not hits:
        return "*Sources: no glossary definition matched this question.*"
    lines = ["**Sources**"]
    for i, hit in enumerate(list(hits)[:max_definitions], 1):
        lines.append(f"{i}. **{_md(hit.term)}** — {_md(hit.source)} (score {hit.score:.2f})")
    return "\n".join(lines)
