"""The one answer path for knowledge questions: Chat (glossary on), Compare's "base + glossary" pane and
``fintune chat --glossary`` all call ``answer_stream`` (or ``answer_question``).

Faithful by construction, for a 135M model:

1. Retrieval decides. An exact term/synonym match, or a meaning-only match scoring ``AnswerConfig.answer_score``
   or more, is *stated*: the answer opens with its definition, verbatim, and its citation number. Nothing the model writes comes before it.
   "Difference between EBIT and EBITDA" states both definitions, [1] and [2].
2. The model may then add a plain sentence (greedy decoding, ``prompting.explain_messages``). Each sentence
   is checked against the cited definitions: MiniLM cosine >= ``min_support``, no name-like token (capitals,
   digits) that the sources and question lack, no talk about "the user". The first sentence that fails ends
   generation and is dropped, so a drifting model leaves the definition alone.
3. A question asking what something is, with no hit above the bar, gets "The glossary has no entry for X"
   and the closest terms (hits above the retrieval threshold ``RagConfig.threshold``), never an invented
   definition. Other questions (not about what a term means) get the model's own answer, and the sources
   line says it is not from the glossary.

The definition (or the no-entry line) is yielded as soon as retrieval is done, before the model runs, so
an answer starts within the retrieval time (tens of milliseconds once the encoder is loaded).
"""

from __future__ import annotations

import dataclasses
import re
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Sequence

from rag.config import AnswerConfig
from rag.entries import Hit
from rag.prompting import explain_messages, format_sources, md_escape
from rag.text import norm, strip_question

Similarity = Callable[[str, Sequence[str]], float]  # (sentence, source texts) -> best cosine

DEFINITION, NO_ENTRY, MODEL = "definition", "no_entry", "model"
NO_ENTRY_SOURCES = "*Sources: the glossary has no entry for this question, so nothing is cited.*"
MODEL_SOURCES = "*Sources: none. The glossary has no entry that answers this, so this is the model's own answer and may be wrong.*"

_MULTI = [
    re.compile(r"^(?:what(?:'s| is| are)? )?(?:the |a )?(?:main |key )?differences? between (?P<a>.+) and (?P<b>.+)$", re.I),
    re.compile(r"^(?:how )?(?:does |do |is |are )?(?P<a>.+?) (?:differ|different) from (?P<b>.+)$", re.I),
    re.compile(r"^(?:compare )?(?P<a>.+?)\s+(?:vs\.?|versus)\s+(?P<b>.+)$", re.I),
    re.compile(r"^compare (?P<a>.+) (?:and|with|to) (?P<b>.+)$", re.I),
]
_ASKS_TERM = re.compile(r"^(?:which|what) (?:term|word|name|concept)\b|^(?:is there|give me) a (?:term|word|name) for\b", re.I)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_META = re.compile(r"\b(?:the user|the question|you asked|as an ai|i am an?|i'm an?|the (?:definition|text) (?:provided|given|above))\b", re.I)
_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9&'./-]*")


@dataclass
class GroundedAnswer:
    """An answer with what it rests on. ``text`` is plain text with citation numbers; ``hits`` are the cited
    definitions in citation order ([1] = ``hits[0]``)."""

    question: str
    kind: str = field(metadata={"help": "'definition' (states glossary definitions), 'no_entry' or 'model' (not from the glossary)."})
    text: str
    hits: list[Hit] = field(default_factory=list)
    closest: list[Hit] = field(default_factory=list, metadata={"help": "Nearest entries offered when there is no entry."})
    missing: list[str] = field(default_factory=list, metadata={"help": "Asked-about terms the glossary has no entry for."})
    explanation: str = field(default="", metadata={"help": "The model's added text that passed the support check."})
    dropped: str = field(default="", metadata={"help": "Generated text rejected by the support check (never shown)."})
    first_token_s: float = 0.0
    total_s: float = 0.0

    def sources_markdown(self) -> str:
        if self.kind == DEFINITION:
            return format_sources(self.hits, max_definitions=len(self.hits))
        return NO_ENTRY_SOURCES if self.kind == NO_ENTRY else MODEL_SOURCES

    def markdown(self) -> str:
        """The answer as the Chat tab shows it: the escaped text, then the sources."""
        return f"{md_escape(self.text)}\n\n{self.sources_markdown()}"

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["hits"] = [h.to_dict() for h in self.hits]
        out["closest"] = [h.to_dict() for h in self.closest]
        return out


@dataclass
class AnswerPlan:
    """What retrieval decided before any generation: the definitions to state, or why there are none."""

    question: str
    kind: str
    cited: list[Hit]
    missing: list[str]
    closest: list[Hit]

    def head(self) -> str:
        """The text shown first: the stated definitions (and missing terms), or the no-entry line."""
        if self.kind == MODEL:
            return ""
        parts = [f"{hit.term}: {_one_line(hit.definition)} [{i}]" for i, hit in enumerate(self.cited, 1)]
        parts += [no_entry_line(subject, self.closest) for subject in self.missing]
        return "\n\n".join(parts)


# ----------------------------------------------------------------------------------------- retrieval
def asks_definition(question: str) -> bool:
    """True for 'What is X?', 'Define X', 'What does L/C stand for?', 'Which term means ...?', a bare term, 'X vs Y'."""
    text = re.sub(r"^(?:a|an|the) ", "", norm(question))
    return (norm(strip_question(question)) != text or len(text.split()) <= 3 or bool(_ASKS_TERM.match(str(question).strip()))
            or bool(_splits(question, 2)))


def _splits(question: str, max_terms: int) -> list[list[str]]:
    """Candidate ways to read a question as several terms: 'difference between A and B' -> [['A', 'B']]."""
    text = str(question).strip().rstrip("?!. ")
    out: list[list[str]] = []
    for pattern in _MULTI:
        match = pattern.match(text)
        if not match:
            continue
        joined = f"{match['a']} and {match['b']}"
        words = joined.split(" and ")
        for cut in range(1, len(words)):  # 'profit and loss and cash flow': try every 'and'
            left, right = " and ".join(words[:cut]), " and ".join(words[cut:])
            parts = [p.strip(" ,") for p in re.split(r",\s*", left) + [right]]
            parts = [p for p in parts if p]
            if 2 <= len(parts) <= max_terms and parts not in out:
                out.append(parts)
        break
    return out


def plan_answer(question: str, glossary, config: AnswerConfig | None = None) -> AnswerPlan:
    """Search the glossary (one batch) and decide what the answer states."""
    config = config or AnswerConfig()
    question = str(question or "").strip()
    splits = _splits(question, config.max_terms)
    queries = list(dict.fromkeys([question] + [p for split in splits for p in split]))
    found = dict(zip(queries, glossary.search_many(queries, k=max(config.closest_terms, 1))))

    def strong(query: str) -> Hit | None:
        hits = found[query]
        return hits[0] if hits and is_stated(hits[0], config) else None

    best = max(splits, key=lambda split: sum(strong(p) is not None for p in split), default=None)
    parts = best if best and any(strong(p) for p in best) else [question]
    cited: list[Hit] = []
    missing: list[str] = []
    closest: list[Hit] = []
    for part in parts:
        hit = strong(part)
        if hit is not None:
            if all((hit.term, hit.source) != (c.term, c.source) for c in cited):
                cited.append(hit)
        else:
            missing.append(strip_question(part))
            closest += found[part]
    stated = {norm(c.term) for c in cited}
    closest = [h for h in _unique_terms(closest) if norm(h.term) not in stated][: config.closest_terms]
    kind = DEFINITION if cited else NO_ENTRY if asks_definition(question) else MODEL
    return AnswerPlan(question, kind, cited, missing if kind != MODEL else [], closest)


def is_stated(hit: Hit, config: AnswerConfig) -> bool:
    """An exact term/synonym match, or a meaning-only match scoring ``answer_score``+; never a partial phrase match
    ('carbon yield spread' must not be answered with the definition of 'yield spread')."""
    return hit.match in ("term", "synonym") or (not hit.match and hit.score >= config.answer_score)


def _unique_terms(hits: Sequence[Hit]) -> list[Hit]:
    seen: set[str] = set()
    out = []
    for hit in sorted(hits, key=lambda h: -h.score):
        if norm(hit.term) not in seen:
            seen.add(norm(hit.term))
            out.append(hit)
    return out


def no_entry_line(subject: str, closest: Sequence[Hit]) -> str:
    line = f'The glossary has no entry for "{subject}".'
    if closest:
        return f"{line} Closest terms: {', '.join(h.term for h in closest)}."
    return f"{line} Nothing in it comes close; a glossary that defines it can be imported in the Knowledge tab."


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


# ----------------------------------------------------------------------------------------- checking
def minilm_similarity(encoder_name: str | None = None) -> Similarity:
    """Best cosine between a sentence and any source text, with the shared MiniLM encoder."""
    from rag.encoder import Encoder

    encoder = Encoder.shared(encoder_name) if encoder_name else Encoder.shared()

    def similarity(sentence: str, sources: Sequence[str]) -> float:
        vectors = encoder.encode([sentence, *sources])
        return float((vectors[1:] @ vectors[0]).max())

    return similarity


def unsupported_names(sentence: str, sources: Sequence[str]) -> list[str]:
    """Name-like tokens (inner capitals, capitalised mid-sentence words, digits) that no source contains."""
    known = set(norm(" ".join(sources)).split())
    out = []
    for i, token in enumerate(_TOKEN.findall(sentence)):
        name_like = any(ch.isdigit() for ch in token) or any(ch.isupper() for ch in token[1:]) or (i > 0 and token[0].isupper())
        key = norm(token)
        if name_like and key and not all(word in known for word in key.split()):
            out.append(token)
    return out


def check_sentence(sentence: str, hits: Sequence[Hit], question: str, similarity: Similarity,
                   config: AnswerConfig) -> str:
    """'' when the sentence is supported by the cited definitions, else why it is not ('echo' = only repeats them)."""
    definitions = [h.definition for h in hits]
    sources = definitions + [h.term for h in hits] + [s for h in hits for s in h.synonyms] + [question]
    if _META.search(sentence):
        return "talks about the conversation instead of the term"
    names = unsupported_names(sentence, sources)
    if names:
        return f"names what the sources do not: {', '.join(names[:3])}"
    score = similarity(sentence, definitions)
    if score < config.min_support:
        return f"drifts from the definition (cosine {score:.2f} < {config.min_support:.2f})"
    if score >= config.max_echo:
        return "echo"
    return ""


def _sentences(deltas: Iterator[str]) -> Iterator[tuple[str, bool]]:
    """(sentence, complete) pairs from a stream of text deltas; the last one may be cut off by the token limit."""
    buffer = ""
    for delta in deltas:
        buffer += delta
        while (match := _SENTENCE_END.search(buffer)) is not None:
            sentence, buffer = buffer[: match.start()].strip(), buffer[match.end():]
            if sentence:
                yield sentence, True
    if buffer.strip():
        yield buffer.strip(), buffer.strip()[-1] in ".!?"


# ----------------------------------------------------------------------------------------- answering
def _grounded_settings(settings, config: AnswerConfig):
    """Greedy decoding, at most ``explain_tokens`` new tokens; the rest of the caller's settings kept."""
    if settings is None:
        from fintune.engine import GenerationSettings

        return GenerationSettings(temperature=0.0, max_new_tokens=config.explain_tokens)
    return dataclasses.replace(settings, temperature=0.0, max_new_tokens=min(int(settings.max_new_tokens), config.explain_tokens))


def _model_messages(question: str, history: Sequence[dict] | None, system: str | None) -> list[dict]:
    messages = [{"role": "system", "content": system}] if system and system.strip() else []
    messages += [{"role": m["role"], "content": str(m.get("content") or "")} for m in (history or [])
                 if isinstance(m, dict) and m.get("role") in ("user", "assistant")]
    return messages + [{"role": "user", "content": question}]


def explanation_from(deltas: Iterator[str], plan: AnswerPlan, similarity: Similarity,
                     config: AnswerConfig, dropped: list[str]) -> Iterator[str]:
    """The supported sentences of a generated explanation; stops (closing ``deltas``) at the first unsupported one."""
    stream = _sentences(deltas)
    try:
        for sentence, complete in stream:
            why = check_sentence(sentence, plan.cited, plan.question, similarity, config) if complete else "cut off by the token limit"
            if why == "echo":
                continue
            if why:
                dropped.append(f"{sentence} ({why})")
                return
            yield sentence
    finally:
        stream.close()
        close = getattr(deltas, "close", None)
        if close is not None:
            close()


def answer_stream(question: str, glossary, engine, history: Sequence[dict] | None = None, settings=None, *,
                  system: str | None = None, adapter: str | None = None, config: AnswerConfig | None = None,
                  similarity: Similarity | None = None) -> Iterator[str | GroundedAnswer]:
    """Yield the answer as text deltas, then the finished ``GroundedAnswer`` (with its hits) as the last item."""
    config = config or AnswerConfig()
    started = time.perf_counter()
    plan = plan_answer(question, glossary, config)
    first: list[float] = []

    def emit(text: str) -> str:
        if not first:
            first.append(time.perf_counter() - started)
        return text

    text, explanation, dropped = plan.head(), [], []
    if plan.kind == MODEL:
        text = ""
        for delta in engine.stream(_model_messages(plan.question, history, system), settings, adapter=adapter):
            text += delta
            yield emit(delta)
        text = text.strip()
    else:
        yield emit(text)
        if plan.kind == DEFINITION and config.explain and engine is not None:
            if similarity is None:
                similarity = minilm_similarity(getattr(getattr(glossary, "config", None), "encoder", None))
            deltas = engine.stream(explain_messages(plan.cited), _grounded_settings(settings, config), adapter=adapter)
            for sentence in explanation_from(deltas, plan, similarity, config, dropped):
                delta = ("\n\n" if not explanation else " ") + sentence
                explanation.append(sentence)
                text += delta
                yield delta
    yield GroundedAnswer(question=plan.question, kind=plan.kind, text=text, hits=list(plan.cited), closest=list(plan.closest),
                         missing=list(plan.missing), explanation=" ".join(explanation), dropped=" | ".join(dropped),
                         first_token_s=first[0] if first else time.perf_counter() - started,
                         total_s=time.perf_counter() - started)


def answer_question(question: str, glossary, engine, history: Sequence[dict] | None = None, settings=None,
                    **options) -> GroundedAnswer:
    """``answer_stream`` run to the end: the finished answer."""
    final = None
    for item in answer_stream(question, glossary, engine, history, settings, **options):
        if isinstance(item, GroundedAnswer):
            final = item
    assert final is not None  # answer_stream always ends with the answer
    return final
