"""The goal classifier: MiniLM embeddings → two axes per clause, plus the goal's words → a small stacked read-out.

Three linear models over all-MiniLM-L6-v2 embeddings and one over the goal's words, all fit on the labelled
example goals (``advisor/data/anchors.jsonl``) and the clause-level facet phrases (``advisor/data/facets.jsonl``):

* **readout** — 5-way logistic regression on the whole goal (rag / finetune / both / prompt / vague).
* **lexical** — the same 5-way regression on the goal's words and word pairs (TF-IDF). A sentence embedding
  blurs the small words that decide many goals ("*our* categories", "*these* notes", "*current* rates"); the
  words keep them (source-held-out CV over the outside writers' goals: 92.1 % → 97.4 % for the model alone,
  ``benchmarks/advisor_pipeline_cv.py``).
* **knowledge axis** — "does this text ask for facts the model cannot know: current, specific, documented,
  cited, or definitions of terms?" Positives: RAG goals and knowledge-side facet phrases. Negatives:
  fine-tune / prompt / vague goals *and every clause of them* (a clause of a pure mapping or generic goal
  asks for no knowledge), plus behaviour-side and generic facet phrases.
* **behaviour axis** — "does this text ask for a learned output: a fixed label set, a format, a style, a
  domain's language?" Built the same way with the sides swapped.

Both axes are read on the whole goal and on each clause span (``advisor.clauses.clauses``). The stacker, a
5-way logistic regression over fifteen named features (the readout's log-probabilities, each axis on the
whole goal and on its best clause, *knowledge in one clause + behaviour in a separate clause*, and the lexical
read-out's log-probabilities), gives
the final shares. It is trained on out-of-fold features so it learns how far to trust each part.

The fitted weights and the anchor/facet embeddings are shipped in ``advisor/data/goal_model.npz`` together
with a fingerprint of the data files; if the data changes the model is refit at first use (and
``python -m advisor.goal_model`` rewrites the shipped file). Prediction is plain numpy.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from advisor.anchors import ANCHOR_LABELS, DATA_DIR, anchors, signals
from advisor.clauses import clause_spans

MODEL_FILE = DATA_DIR / "goal_model.npz"
MODEL_VERSION = "goal-model-5"
FEATURES = tuple(f"log p({label})" for label in ANCHOR_LABELS) + (
    "knowledge (whole goal)", "behaviour (whole goal)", "knowledge (best part)", "behaviour (best part)",
    "knowledge and behaviour in separate parts",
) + tuple(f"log p({label}) from the words" for label in ANCHOR_LABELS)
READOUT_C, AXIS_C, STACK_C, LEXICAL_C, INNER_FOLDS = 3.0, 10.0, 1.0, 10.0, 5
# scikit-learn's TfidfVectorizer settings, which Lexical.vectors reproduces in numpy
TFIDF = {"ngram_range": (1, 2), "min_df": 2, "sublinear_tf": True}
_TOKEN = re.compile(r"(?u)\b\w\w+\b")  # TfidfVectorizer's default token_pattern
_LINEARS = ("readout", "knowledge", "behaviour", "stacker")  # GoalModel's own linear parts, saved under their names


@dataclass(frozen=True)
class Linear:
    coef: np.ndarray  # (n_out, d); n_out == 1 for a binary axis
    intercept: np.ndarray
    classes: tuple[str, ...]

    def proba(self, X: np.ndarray) -> np.ndarray:
        z = X @ self.coef.T + self.intercept
        if self.coef.shape[0] == 1:
            return 1.0 / (1.0 + np.exp(-z[:, 0]))
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    @classmethod
    def from_sklearn(cls, m) -> "Linear":
        return cls(np.asarray(m.coef_, dtype="float64"), np.asarray(m.intercept_, dtype="float64"), tuple(str(c) for c in m.classes_))


@dataclass(frozen=True)
class Lexical:
    """TF-IDF of words and word pairs → logistic regression; fit with scikit-learn, read in plain numpy."""

    vocabulary: tuple[str, ...]  # term of each column
    idf: np.ndarray
    linear: Linear

    @cached_property
    def _index(self) -> dict[str, int]:  # term → column, built once per model
        return {term: i for i, term in enumerate(self.vocabulary)}

    def vectors(self, texts: Sequence[str]) -> np.ndarray:
        index = self._index
        X = np.zeros((len(texts), len(self.vocabulary)))
        for row, text in enumerate(texts):
            words = _TOKEN.findall(text.lower())
            for term in words + [f"{a} {b}" for a, b in zip(words, words[1:])]:
                col = index.get(term)
                if col is not None:
                    X[row, col] += 1.0
        X = np.where(X > 0, 1.0 + np.log(np.maximum(X, 1.0)), 0.0) * self.idf  # sublinear tf × idf
        norms = np.linalg.norm(X, axis=1, keepdims=True)
        return X / np.where(norms > 0, norms, 1.0)

    def proba(self, texts: Sequence[str]) -> np.ndarray:
        return self.linear.proba(self.vectors(texts))

    @classmethod
    def fit(cls, texts: Sequence[str], labels: Sequence[str]) -> "Lexical":
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        vec = TfidfVectorizer(**TFIDF)
        X = vec.fit_transform(texts)
        vocabulary = tuple(vec.get_feature_names_out())
        return cls(vocabulary, np.asarray(vec.idf_, dtype="float64"),
                   Linear.from_sklearn(LogisticRegression(C=LEXICAL_C, max_iter=3000).fit(X, labels)))


@dataclass(frozen=True)
class AxisReading:
    """The two axes on one goal: scores on the whole goal, the best clause for each, and the compound pair."""

    knowledge: float
    behaviour: float
    knowledge_part: tuple[str, float]
    behaviour_part: tuple[str, float]
    compound: float
    compound_parts: tuple[str, str] | None


def read_axes(goal: str, spans: list[str], k: np.ndarray, b: np.ndarray) -> AxisReading:
    gi = spans.index(goal)
    ki, bi = int(np.argmax(k)), int(np.argmax(b))
    comp, pair = 0.0, None
    for i, j in itertools.permutations(range(len(spans)), 2):
        if spans[i] in spans[j] or spans[j] in spans[i]:
            continue  # overlapping spans: not two separate requirements
        s = float(min(k[i], b[j]))
        if s > comp:
            comp, pair = s, (spans[i], spans[j])
    return AxisReading(float(k[gi]), float(b[gi]), (spans[ki], float(k[ki])), (spans[bi], float(b[bi])), comp, pair)


@dataclass(frozen=True)
class GoalModel:
    readout: Linear
    knowledge: Linear
    behaviour: Linear
    lexical: Lexical
    stacker: Linear
    fingerprint: str
    anchor_vecs: np.ndarray | None = None
    facet_vecs: np.ndarray | None = None

    def features(self, goal: str, goal_vec: np.ndarray, axes: AxisReading) -> np.ndarray:
        p = self.readout.proba(goal_vec[None, :])[0]
        q = self.lexical.proba([goal])[0]
        p_order = [self.readout.classes.index(label) for label in ANCHOR_LABELS]
        q_order = [self.lexical.linear.classes.index(label) for label in ANCHOR_LABELS]
        return np.array(list(np.log(p[p_order] + 1e-4)) + [axes.knowledge, axes.behaviour, axes.knowledge_part[1],
                                                           axes.behaviour_part[1], axes.compound]
                        + list(np.log(q[q_order] + 1e-4)))

    def read(self, goal: str, goal_vec: np.ndarray, spans: list[str], span_vecs: np.ndarray):
        """(shares per label, AxisReading, feature vector) for one goal; spans must include the goal."""
        k = self.knowledge.proba(span_vecs)
        b = self.behaviour.proba(span_vecs)
        axes = read_axes(goal, spans, k, b)
        f = self.features(goal, goal_vec, axes)
        p = self.stacker.proba(f[None, :])[0]
        return {c: float(v) for c, v in zip(self.stacker.classes, p)}, axes, f

    def save(self, path: Path) -> None:
        arrays = {}
        linears = {name: getattr(self, name) for name in _LINEARS} | {"lexical": self.lexical.linear}
        for name, lin in linears.items():
            arrays[f"{name}_coef"] = lin.coef
            arrays[f"{name}_intercept"] = lin.intercept
            arrays[f"{name}_classes"] = np.array(lin.classes)
        arrays["lexical_vocabulary"] = np.array(self.lexical.vocabulary)
        arrays["lexical_idf"] = self.lexical.idf
        arrays["fingerprint"] = np.array(self.fingerprint)
        if self.anchor_vecs is not None:
            arrays["anchor_vecs"] = self.anchor_vecs.astype("float16")
        if self.facet_vecs is not None:
            arrays["facet_vecs"] = self.facet_vecs.astype("float16")
        np.savez_compressed(path, **arrays)

    @classmethod
    def load(cls, path: Path) -> "GoalModel":
        with np.load(path, allow_pickle=False) as z:
            lin = {name: Linear(z[f"{name}_coef"], z[f"{name}_intercept"], tuple(str(c) for c in z[f"{name}_classes"]))
                   for name in _LINEARS + ("lexical",)}
            lexical = Lexical(tuple(str(t) for t in z["lexical_vocabulary"]), z["lexical_idf"], lin.pop("lexical"))
            vec = lambda key: z[key].astype("float32") if key in z else None  # noqa: E731
            return cls(**lin, lexical=lexical, fingerprint=str(z["fingerprint"]), anchor_vecs=vec("anchor_vecs"),
                       facet_vecs=vec("facet_vecs"))


def fingerprint() -> str:
    h = hashlib.sha256(MODEL_VERSION.encode())
    for name in ("anchors.jsonl", "facets.jsonl", "signals.json"):
        h.update((DATA_DIR / name).read_bytes())
    return h.hexdigest()[:16]


def facet_phrases() -> list[tuple[str, str]]:
    """(signal, phrase) pairs from facets.jsonl, in file order."""
    rows = [json.loads(line) for line in (DATA_DIR / "facets.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    return [(row["signal"], phrase) for row in rows for phrase in row["phrases"]]


def fit(goals: Sequence[str], labels: Sequence[str], phrases: Sequence[tuple[str, str]],
        embed: Callable[[list[str]], np.ndarray], seed: int = 1) -> GoalModel:
    """Fit the readout, both axes and the stacker (on out-of-fold features) from labelled goals + facet phrases."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    side = {key: s.side for key, s in signals().items()}
    spans = {g: clause_spans(g) for g in goals}
    texts = list(dict.fromkeys(list(goals) + [p for _, p in phrases] + [s for g in goals for s in spans[g]]))
    vecs = dict(zip(texts, embed(texts)))
    V = lambda ts: np.stack([vecs[t] for t in ts])  # noqa: E731
    labels = np.asarray(labels)

    def fit_base(idx):
        readout = LogisticRegression(C=READOUT_C, max_iter=3000).fit(V([goals[i] for i in idx]), labels[idx])
        axes = {}
        for axis, pos, neg in (("knowledge", "rag", ("finetune", "prompt", "vague")), ("behaviour", "finetune", ("rag", "prompt", "vague"))):
            ts, ys = [], []
            for i in idx:
                if labels[i] == "both":
                    continue  # a compound goal asks for both; its clauses are unlabelled
                ts.append(goals[i]); ys.append(int(labels[i] == pos))
                if labels[i] in neg:  # no clause of a goal without this need asks for it
                    extra = [s for s in spans[goals[i]] if s != goals[i]]
                    ts += extra; ys += [0] * len(extra)
            for sig, p in phrases:
                ts.append(p); ys.append(int(side[sig] == ("rag" if axis == "knowledge" else "finetune")))
            axes[axis] = Linear.from_sklearn(LogisticRegression(C=AXIS_C, max_iter=3000).fit(V(ts), ys))
        lexical = Lexical.fit([goals[i] for i in idx], labels[idx])
        return Linear.from_sklearn(readout), axes["knowledge"], axes["behaviour"], lexical

    def feats(base, idx):
        m = GoalModel(*base, stacker=None, fingerprint="")  # type: ignore[arg-type]
        out = []
        for i in idx:
            g = goals[i]
            S = V(spans[g])
            axes = read_axes(g, spans[g], m.knowledge.proba(S), m.behaviour.proba(S))
            out.append(m.features(g, vecs[g], axes))
        return np.array(out)

    F = np.zeros((len(goals), len(FEATURES)))
    folds = StratifiedKFold(INNER_FOLDS, shuffle=True, random_state=seed)
    for tr, te in folds.split(labels, labels):
        F[te] = feats(fit_base(tr), te)
    base = fit_base(np.arange(len(goals)))
    stacker = Linear.from_sklearn(LogisticRegression(C=STACK_C, max_iter=3000).fit(F, labels))
    return GoalModel(*base, stacker=stacker, fingerprint="")


def build(embed: Callable[[list[str]], np.ndarray] | None = None) -> GoalModel:
    """Fit on the shipped anchors and facets; also stores their embeddings for the nearest-example reasons."""
    if embed is None:
        from advisor.embed import embed
    raw, memo = embed, {}

    def embed(texts: list[str]) -> np.ndarray:  # noqa: F811 — memoised: anchors are embedded once
        todo = [t for t in dict.fromkeys(texts) if t not in memo]
        if todo:
            memo.update(zip(todo, raw(todo)))
        return np.stack([memo[t] for t in texts])

    table = anchors()
    phrases = facet_phrases()
    m = fit([a.goal for a in table], [a.approach for a in table], phrases, embed)
    return GoalModel(m.readout, m.knowledge, m.behaviour, m.lexical, m.stacker, fingerprint(),
                     anchor_vecs=embed([a.goal for a in table]), facet_vecs=embed([p for _, p in phrases]))


@lru_cache(maxsize=1)
def goal_model() -> GoalModel:
    """The shipped model when it matches the data files, else a fresh fit (slow: embeds every anchor clause)."""
    fp = fingerprint()
    if MODEL_FILE.exists():
        m = GoalModel.load(MODEL_FILE)
        if m.fingerprint == fp:
            return m
    import logging

    logging.getLogger(__name__).warning("advisor/data/goal_model.npz is missing or older than the example goals; refitting "
                                        "(run `python -m advisor.goal_model` to update the shipped file).")
    return build()


def main() -> None:
    m = build()
    m.save(MODEL_FILE)
    print(f"wrote {MODEL_FILE} (fingerprint {m.fingerprint}, {len(anchors())} example goals, {len(facet_phrases())} facet phrases)")


if __name__ == "__main__":
    main()
