"""Text normalisation shared by indexing and querying: term keys and question-scaffolding removal.

``norm("Letter-of-Credit")`` -> ``"letter of credit"``; ``compact("L/C")`` -> ``"lc"``;
``strip_question("What does L/C stand for?")`` -> ``"L/C"``.
"""

from __future__ import annotations

import re
import unicodedata

_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-"})
_NON_WORD = re.compile(r"[^a-z0-9&' ]+")
_SPACES = re.compile(r"\s+")

STOPWORDS = frozenset(
    "a an the of in on for to and or is are was be by with as at from it its this that what which who how why "
    "does do did mean means meaning define definition explain me you your i my we our".split()
)

# Leading scaffolding, tried repeatedly (longest first). Case-insensitive.
_LEADING = re.compile(
    r"^(?:"
    r"(?:can|could|would) you (?:please )?(?:tell me|explain|define|describe)(?: to me)?(?: what)?|"
    r"please (?:explain|define|describe)|"
    r"i (?:want|would like) to know(?: what)?|"
    r"(?:tell me|explain|describe)(?: to me)?(?: about| what)?|"
    r"what (?:is|are|'s) (?:the )?(?:meaning|definition) of|"
    r"what is meant by|what do (?:you|we) mean by|what do you call|"
    r"(?:which|what) (?:term|word|name|concept) (?:means|refers to|describes|is used for|stands for)|"
    r"what (?:is|are|was|were)|what's|whats|what does|what do|who (?:is|are)|"
    r"how (?:do|does|would) (?:you|one|i) define|how (?:is|are) .+? defined$|"
    r"(?:the )?(?:meaning|definition) of|define|definition:|meaning:|"
    r"a|an|the"
    r")\b\s*",
    re.IGNORECASE,
)
_TRAILING = re.compile(
    r"\s*(?:\b(?:is|are|mean|means|stand for|stands for|refer to|refers to|signify|exactly|"
    r"in (?:finance|accounting|banking|economics|trading|markets)|please)\b|[?!.:;,\s])+$",
    re.IGNORECASE,
)
_HOW_DEFINED = re.compile(r"^how (?:is|are) (.+?) defined$", re.IGNORECASE)


def norm(text: str) -> str:
    """Lower-case key: unicode-folded, hyphens/slashes/underscores as spaces, other punctuation dropped."""
    text = unicodedata.normalize("NFKC", str(text)).translate(_QUOTES).lower()
    text = re.sub(r"[-/_]+", " ", text)
    text = _NON_WORD.sub(" ", text)
    return _SPACES.sub(" ", text).strip(" '")


def compact(text: str) -> str:
    """Key without any separators, so 'L/C', 'LC' and 'l c' meet."""
    return re.sub(r"[^a-z0-9&]", "", norm(text))


def strip_question(query: str) -> str:
    """The subject of a definition question, with the scaffolding ('what is a', 'define', 'mean?') removed."""
    text = unicodedata.normalize("NFKC", str(query)).translate(_QUOTES).strip()
    text = text.strip('"\' ')
    for _ in range(6):
        before = text
        match = _HOW_DEFINED.match(text.rstrip("?!. "))
        if match:
            text = match.group(1)
        text = _TRAILING.sub("", text)
        text = _LEADING.sub("", text, count=1)
        text = text.strip('"\' ')
        if text == before:
            break
    return text or str(query).strip()


def singular(key: str) -> str | None:
    """A naive singular of a normalised key ('bonds' -> 'bond'), or None when it does not look plural."""
    if len(key) > 3 and key.endswith("s") and not key.endswith(("ss", "us", "is")):
        return key[:-1]
    return None
