"""Goal text → checked goal and clause spans. A leaf module: no other advisor module is imported here.

The goal classifier (``advisor.goal_model``), the goal reader (``advisor.goal``) and the criteria
(``advisor.criteria``) all cut the goal the same way, so the split lives in one place.
"""

from __future__ import annotations

import re

from advisor.errors import AdvisorError

MAX_GOAL_CHARS = 2000
# Clause boundaries: punctuation, or a space before a connective that usually starts a new requirement.
_BOUNDARY = re.compile(
    r"[,;:]|\s(?=(?:and|but|while|then|in|into|using|with|following|according|formatted|as|like|from|citing|always)\s)",
    re.IGNORECASE,
)


def check_goal(goal: str) -> str:
    """The goal, whitespace-normalised; an AdvisorError naming the fix when it is empty or too long."""
    text = " ".join(str(goal or "").split())
    if not text:
        raise AdvisorError("The goal is empty. Describe in a sentence what the model should do, e.g. "
                           "\"Classify financial news headlines as bullish, bearish or neutral\".")
    if len(text) > MAX_GOAL_CHARS:
        raise AdvisorError(f"The goal is {len(text)} characters long. Describe it in one or two sentences "
                           f"(under {MAX_GOAL_CHARS:,} characters) and attach examples with --data.")
    return text


# The technique a user names ("we need RAG for …", "fine-tune a model so it can …") is not evidence of the task:
# the guidance decides from what the model must do. The goal model reads the goal with it neutralised.
_RAG_VERB = re.compile(r"\brag(?= (?:our|my|the|all|these|those|it|them|this|that)\b)", re.IGNORECASE)
_RAG = re.compile(r"\b(?:an? )?(?:rag|retrieval[- ]augmented generation)(?: (?:pipeline|system|setup|bot|approach|"
                  r"solution|index|stack|layer))?\b", re.IGNORECASE)
_FINE_TUNE = re.compile(r"\bfine[- ]?tun(e|es|ed|ing)\b(?: on\b)?", re.IGNORECASE)
_USE = {"e": "use", "es": "uses", "ed": "used", "ing": "using"}


def without_technique(goal: str) -> str:
    """The goal with the names of techniques (RAG, fine-tuning) replaced by neutral words."""
    goal = _RAG_VERB.sub("use", goal)
    goal = _RAG.sub("a model", goal)
    goal = _FINE_TUNE.sub(lambda m: _USE[m.group(1).lower()], goal)
    return " ".join(goal.split())


def clauses(goal: str, min_words: int = 2, max_chunks: int = 3) -> list[str]:
    """Spans of the goal: runs of 1..max_chunks adjacent chunks between clause boundaries.

    Runs (rather than single chunks) keep lists such as "fraud, duplicate charge or other" together.
    """
    chunks = [c.strip(" ,;:.") for c in _BOUNDARY.split(goal)]
    chunks = [c for c in chunks if c]
    spans: list[str] = []
    for i in range(len(chunks)):
        for j in range(i + 1, min(len(chunks), i + max_chunks) + 1):
            span = " ".join(chunks[i:j])
            if len(span.split()) >= min_words and span not in spans:
                spans.append(span)
    return spans or [goal]


def clause_spans(goal: str) -> list[str]:
    """The clause spans, with the whole goal first when the split did not produce it."""
    spans = clauses(goal)
    return spans if goal in spans else [goal] + spans
