"""trainer.metrics against values computed by hand."""

import pytest

from trainer import metrics as m

LABELS = ["bearish", "bullish", "neutral"]


@pytest.mark.parametrize(
    "answer, expected",
    [
        ("bullish", "bullish"),
        ("  Bullish. ", "bullish"),
        ("NEUTRAL!", "neutral"),
        ("The sentiment is bearish, not bullish.", "bearish"),  # first label word wins
        ("I think it's bullish overall; neutral at worst", "bullish"),
        ("bullishness everywhere", m.INVALID),  # whole words only
        ("I cannot tell.", m.INVALID),
        ("", m.INVALID),
    ],
)
def test_map_to_label(answer, expected):
    assert m.map_to_label(answer, LABELS) == expected


def test_map_to_label_multiword_prefers_longest_at_same_position():
    labels = ["buy", "strong buy", "sell"]
    assert m.map_to_label("Strong buy, clearly", labels) == "strong buy"
    assert m.map_to_label("Answer: buy", labels) == "buy"


# y_true / y_pred worked by hand:
#   bullish: tp=1 fp=1 fn=1 -> P=.5 R=.5 F1=.5
#   bearish: tp=1 fp=1 fn=1 -> F1=.5
#   neutral: tp=1 fp=0 fn=1 -> P=1 R=.5 F1=2/3
#   macro-F1 = (0.5 + 0.5 + 2/3) / 3 = 5/9; accuracy = 3/6
Y_TRUE = ["bullish", "bullish", "bearish", "bearish", "neutral", "neutral"]
Y_PRED = ["bullish", "bearish", "bearish", m.INVALID, "neutral", "bullish"]


def test_accuracy_and_macro_f1_by_hand():
    assert m.accuracy(Y_TRUE, Y_PRED) == pytest.approx(0.5)
    assert m.macro_f1(Y_TRUE, Y_PRED, LABELS) == pytest.approx(5 / 9)
    per = m.per_class_f1(Y_TRUE, Y_PRED, LABELS)
    assert per["neutral"] == pytest.approx({"precision": 1.0, "recall": 0.5, "f1": 2 / 3, "support": 2})


def test_macro_f1_zero_division_and_perfect():
    assert m.macro_f1(["a", "b"], ["a", "b"], ["a", "b"]) == 1.0
    # class "c" never true nor predicted -> F1 0 (scikit-learn zero_division=0 with explicit labels)
    assert m.macro_f1(["a", "b"], ["a", "b"], ["a", "b", "c"]) == pytest.approx(2 / 3)
    assert m.accuracy([], []) == 0.0


def test_confusion_matrix_with_invalid_column():
    cm = m.confusion_matrix(Y_TRUE, Y_PRED, LABELS, columns=[*LABELS, m.INVALID])
    assert cm == [
        [1, 0, 0, 1],  # bearish: one right, one invalid
        [1, 1, 0, 0],  # bullish: one read as bearish
        [0, 1, 1, 0],  # neutral: one read as bullish
    ]
    assert m.confusion_matrix(Y_TRUE, Y_PRED, LABELS) == [[1, 0, 0], [1, 1, 0], [0, 1, 1]]


def test_length_mismatch_raises():
    with pytest.raises(ValueError):
        m.accuracy(["a"], [])


def test_normalize_and_exact_match():
    assert m.normalize_text("The  Fed's  rate, raised!") == "fed s rate raised"
    assert m.exact_match("The answer.", "answer") == 1.0
    assert m.exact_match("an answer", "answers") == 0.0


def test_token_f1_by_hand():
    # pred tokens [cat, sat, on, mat], ref [cat, sat]: common 2, P=2/4, R=2/2 -> F1 = 2/3
    assert m.token_f1("The cat sat on the mat", "a cat sat") == pytest.approx(2 / 3)
    # repeated tokens count by multiplicity: pred [x, x, y], ref [x, y, y]: common = 1 x + 1 y = 2 -> 2/3
    assert m.token_f1("x x y", "x y y") == pytest.approx(2 / 3)
    assert m.token_f1("nothing shared", "other words") == 0.0
    assert m.token_f1("", "") == 1.0
    assert m.token_f1("", "word") == 0.0


def test_rouge_l_by_hand():
    # LCS of [one two three four] and [one three five six seven] = [one three] = 2
    # P = 2/4, R = 2/5 -> F1 = 2*.5*.4/.9 = 4/9
    assert m.rouge_l("one two three four", "one three five six seven") == pytest.approx(4 / 9)
    # order matters for ROUGE-L but not for token F1
    assert m.rouge_l("gunman police killed", "police killed gunman") == pytest.approx(2 / 3)
    assert m.token_f1("gunman police killed", "police killed gunman") == 1.0
    assert m.rouge_l("same words", "Same words.") == 1.0
    assert m.rouge_l("abc", "xyz") == 0.0


def test_mean():
    assert m.mean([]) == 0.0
    assert m.mean([1, 2, 3]) == 2.0
