"""RAG prompts and citations.

* ``explain_messages``: the layout the answer path (``rag.answer``) uses. The answer already quotes the
  definition; the model is only asked to restate it in one plain sentence, which SmolLM2-135M does far
  more reliably than answering freely over several definitions.
* ``build_messages``: the previous free-answer layout (rules + top definitions + question). Kept as the
  baseline that ``benchmarks/rag_answers.py`` measures against.
* ``format_sources``: the numbered citations shown under an answer.
"""

from __future__ import annotations

from typing import Any, Sequence

from rag.config import RagConfig
from rag.entries import Hit

MAX_DEFINITIONS = RagConfig.__dataclass_fields__["prompt_definitions"].default
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


def explain_messages(hits: Sequence[Hit]) -> list[dict[str, str]]:
    """Ask for one plain sentence restating the cited definition(s); two hits = say how the terms differ."""
    if len(hits) == 1:
        hit = hits[0]
        return [{"role": "user", "content": f"Definition: {_clip(hit.definition)}\n\n"
                                            f"Using only this definition, say in one simple sentence what {hit.term} is."}]
    block = "\n".join(f"{h.term}: {_clip(h.definition)}" for h in hits)
    names = " and ".join(h.term for h in hits)
    return [{"role": "user", "content": f"Definitions:\n{block}\n\nUsing only these definitions, say in one simple sentence how {names} differ."}]


def _md(text: str) -> str:
    for ch in "\\`*_[]<>|":
        text = text.replace(ch, "\\" + ch)
    return text


def md_escape(text: str) -> str:
    """Text safe to put inside Markdown (no accidental bold, links or tables)."""
    return _md(str(text))


def format_sources(hits: Sequence[Hit], max_definitions: int = MAX_DEFINITIONS) -> str:
    """Markdown shown under an answer: which definitions it was given (term, source, score)."""
    if not hits:
        return "*Sources: no glossary definition matched this question.*"
    lines = ["**Sources**"]
    for i, hit in enumerate(list(hits)[:max_definitions], 1):
        lines.append(f"{i}. **{_md(hit.term)}** — {_md(hit.source)} (score {hit.score:.2f})")
    return "\n".join(lines)
