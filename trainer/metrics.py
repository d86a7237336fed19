"""Evaluation metrics over lists of strings (classification scores come from ``sklearn.metrics``).

Classification (a closed label set): ``map_to_label`` turns a free answer into a label (or ``INVALID``),
then ``accuracy``, ``macro_f1`` and ``confusion_matrix``. Free-form answers: ``exact_match``,
``token_f1`` and ``rouge_l`` on normalized tokens (lower case, punctuation and articles dropped, the
usual SQuAD normalization).
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Sequence

INVALID = "invalid"
"""The label an answer gets when it names none of the labels; always counted wrong."""

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = str.maketrans({c: " " for c in string.punctuation})


def normalize_text(text: str) -> str:
    """Lower case, punctuation -> spaces, articles dropped, whitespace collapsed."""
    text = str(text).lower().translate(_PUNCT)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def tokens(text: str) -> list[str]:
    return normalize_text(text).split()


# ----- classification ------------------------------------------------------------------------
def map_to_label(answer: str, labels: Sequence[str]) -> str:
    """The label an answer names: normalized exact match first, else the label whose words occur
    earliest in the answer (whole words), else ``INVALID``."""
    norm = normalize_text(answer)
    by_norm = {normalize_text(label): label for label in labels}
    if norm in by_norm:
        return by_norm[norm]
    padded = f" {norm} "
    best: tuple[int, int, str] | None = None  # (position, -length, label): earliest, then longest
    for label_norm, label in by_norm.items():
        if not label_norm:
            continue
        pos = padded.find(f" {label_norm} ")
        if pos >= 0 and (best is None or (pos, -len(label_norm)) < best[:2]):
            best = (pos, -len(label_norm), label)
    return best[2] if best else INVALID


def accuracy(y_true: Sequence[str], y_pred: Sequence[str]) -> float:
    from sklearn.metrics import accuracy_score

    _check_lengths(y_true, y_pred)
    return float(accuracy_score(list(y_true), list(y_pred))) if len(y_true) else 0.0


def per_class_f1(y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str]) -> dict[str, dict[str, float]]:
    """Precision, recall, F1 and support per label (scikit-learn, zero_division=0)."""
    from sklearn.metrics import precision_recall_fscore_support

    _check_lengths(y_true, y_pred)
    if not len(y_true):
        return {label: {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0} for label in labels}
    p, r, f, n = precision_recall_fscore_support(list(y_true), list(y_pred), labels=list(labels), zero_division=0)
    return {label: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(n[i])}
            for i, label in enumerate(labels)}


def macro_f1(y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str]) -> float:
    """Unweighted mean F1 over ``labels``. An ``INVALID`` prediction is a miss for its true class."""
    if not labels:
        return 0.0
    scores = per_class_f1(y_true, y_pred, labels)
    return sum(s["f1"] for s in scores.values()) / len(labels)


def confusion_matrix(y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str], columns: Sequence[str] | None = None) -> list[list[int]]:
    """Counts ``m[i][j]`` of true ``labels[i]`` predicted as ``columns[j]`` (``columns`` defaults to
    ``labels``; pass ``[*labels, INVALID]`` to see unparseable answers). Pairs outside are ignored."""
    from sklearn.metrics import confusion_matrix as sk_confusion

    _check_lengths(y_true, y_pred)
    columns = list(labels if columns is None else columns)
    if not len(y_true):
        return [[0] * len(columns) for _ in labels]
    everything = list(dict.fromkeys([*columns, *labels]))
    full = sk_confusion(list(y_true), list(y_pred), labels=everything)
    return [[int(full[everything.index(t)][everything.index(c)]) for c in columns] for t in labels]


# ----- free-form answers ---------------------------------------------------------------------
def exact_match(prediction: str, reference: str) -> float:
    return float(normalize_text(prediction) == normalize_text(reference))


def token_f1(prediction: str, reference: str) -> float:
    """SQuAD token F1: harmonic mean of token precision and recall (bags of normalized tokens)."""
    pred, ref = tokens(prediction), tokens(reference)
    if not pred or not ref:
        return float(pred == ref)
    common = sum((Counter(pred) & Counter(ref)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def rouge_l(prediction: str, reference: str) -> float:
    """ROUGE-L F1: longest common token subsequence, as precision/recall over each side's length."""
    pred, ref = tokens(prediction), tokens(reference)
    if not pred or not ref:
        return float(pred == ref)
    lcs = _lcs_length(pred, ref)
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(pred), lcs / len(ref)
    return 2 * precision * recall / (precision + recall)


def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def _lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b, 1):
            cur.append(prev[j - 1] + 1 if x == y else max(prev[j], cur[j - 1]))
        prev = cur
    return prev[-1]


def _check_lengths(y_true: Sequence, y_pred: Sequence) -> None:
    if len(y_true) != len(y_pred):
        raise ValueError(f"{len(y_true)} references but {len(y_pred)} predictions")
