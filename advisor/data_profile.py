"""What the attached data looks like: size, which columns are input/output, and the shape of the answers.

A small closed set of answers or a consistent output format suggests a mapping (fine-tune); answers that
are unique facts per question suggest knowledge (RAG). Every finding is a number the reason can quote.
"""

from __future__ import annotations

import json
import re
import statistics
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from advisor.errors import AdvisorError

_QUESTION_START = re.compile(r"^(what|why|how|when|where|who|which|whom|whose|is|are|can|could|should|would|do|does|did|will|may|if)\b", re.I)


@dataclass
class DataProfile:
    """Numbers about an input→output file, plus the kind of data they indicate."""

    path: str
    n_rows: int
    input_field: str
    output_field: str
    context_field: str | None
    distinct_outputs: int
    distinct_ratio: float = field(metadata={"help": "distinct outputs / rows"})
    top_outputs: list[tuple[str, int]]
    top_coverage: float = field(metadata={"help": "share of rows whose output is among the 20 most common"})
    input_words_median: float
    output_words_median: float
    output_words_p95: float
    question_ratio: float = field(metadata={"help": "share of inputs phrased as a question"})
    json_ratio: float = field(metadata={"help": "share of outputs that parse as a JSON object or list"})
    template_ratio: float = field(metadata={"help": "share of multi-line outputs sharing the most common line skeleton"})
    kind: str = field(metadata={"help": "label_set | format | facts | grounded | freeform | too_small"})
    summary: str = ""

    @property
    def labels(self) -> list[str] | None:
        return [v for v, _ in self.top_outputs] if self.kind == "label_set" else None

    def to_dict(self) -> dict:
        d = asdict(self)
        d["labels"] = self.labels
        return d


def load_pairs(path: str | Path, limit: int | None = None) -> tuple[list[str], list[str], list[str] | None, tuple[str, str, str | None]]:
    """(inputs, outputs, contexts or None, (input_field, output_field, context_field)) from a data file.

    Read and mapped by the trainer's loader (``trainer.data``: its formats, encodings and column aliases), so the
    advisor accepts exactly the files the Train tab accepts, and names labels as the trainer will (its known label
    maps, e.g. 0/1/2 -> bearish/bullish/neutral for the financial-tweet data).
    """
    from trainer.data import CONTEXT_COLUMNS, detect_spec, map_rows, read_table
    from trainer.errors import TrainerError

    path = Path(path).expanduser()
    try:
        ds = read_table(path)
    except TrainerError as exc:
        raise AdvisorError(str(exc)) from None
    if limit:
        ds = ds.select(range(min(limit, ds.num_rows)))
    try:
        spec = detect_spec(list(ds.column_names))
        if spec.shape == "text_label":  # as the trainer does: a known label map for these label values
            spec = detect_spec(list(ds.column_names), sample_labels=ds[spec.completion_column])
    except TrainerError as exc:
        raise AdvisorError(f"{path.name}: could not tell input from output. {exc}") from None
    examples, _ = map_rows(ds, spec)
    lower = {c.lower(): c for c in ds.column_names}
    ctx = next((lower[c] for c in CONTEXT_COLUMNS if c in lower and lower[c] not in spec.columns()), None)
    contexts = None
    if ctx:
        column = ds[ctx]
        contexts = ["" if column[e.row - 1] is None else str(column[e.row - 1]) for e in examples]
    if spec.shape == "messages":
        fields = ("messages[user]", "messages[assistant]", None)
    else:
        fields = (str(spec.prompt_column), str(spec.completion_column), ctx)
    return [e.prompt for e in examples], [e.completion for e in examples], contexts, fields


def _words(text: str) -> int:
    return len(text.split())


def _pct(values: list[float], q: float) -> float:
    """The observed value nearest the q-quantile (0 for no values)."""
    return float(np.percentile(values, q * 100, method="nearest")) if values else 0.0


def _skeleton(text: str) -> str:
    """A multi-line output's structure: the leading label of each line ("Summary:", "- ", "1.")."""
    keys = []
    for line in text.strip().splitlines():
        line = line.strip()
        m = re.match(r"^([A-Za-z][\w ]{0,30}:|[-*•]|\d+[.)])", line)
        keys.append(m.group(1).lower() if m else "·")
    return "|".join(keys)


def profile(path: str | Path) -> DataProfile:
    from trainer.validate import detect_task

    ins, outs, contexts, (fin, fout, fctx) = load_pairs(path)
    n = len(outs)
    if n == 0:
        raise AdvisorError(f"{Path(path).name} has no rows with both an input and an output. Fill the `{fout}` column.")
    counts = Counter(o.strip() for o in outs)
    distinct = len(counts)
    top = counts.most_common(20)
    coverage = sum(c for _, c in top) / n
    out_words = [_words(o) for o in outs]
    in_words = [_words(i) for i in ins]
    question_ratio = sum(1 for i in ins if i.strip().endswith("?") or _QUESTION_START.match(i.strip())) / n

    def is_json(o: str) -> bool:
        o = o.strip()
        if not o or o[0] not in "[{":
            return False
        try:
            json.loads(o)
            return True
        except ValueError:
            return False

    json_ratio = sum(map(is_json, outs)) / n
    multi = [_skeleton(o) for o in outs if "\n" in o.strip()]
    template_ratio = (Counter(multi).most_common(1)[0][1] / n) if len(multi) >= 0.5 * n else 0.0
    p = DataProfile(
        path=str(path), n_rows=n, input_field=fin, output_field=fout, context_field=fctx,
        distinct_outputs=distinct, distinct_ratio=round(distinct / n, 4), top_outputs=[(v[:80], c) for v, c in top[:10]],
        top_coverage=round(coverage, 4), input_words_median=float(statistics.median(in_words)),
        output_words_median=float(statistics.median(out_words)), output_words_p95=_pct(out_words, 0.95),
        question_ratio=round(question_ratio, 3), json_ratio=round(json_ratio, 3), template_ratio=round(template_ratio, 3),
        kind="freeform",
    )
    p.kind, p.summary = _classify(p, is_label_set=detect_task(outs)[0] == "classification")
    return p


def _classify(p: DataProfile, is_label_set: bool) -> tuple[str, str]:
    """The data's kind; ``is_label_set`` comes from the trainer's one label-set rule (``trainer.validate.detect_task``)."""
    n = p.n_rows
    if n < 20:
        return "too_small", f"only {n} rows — too few to learn from; use them as few-shot examples in the prompt"
    if is_label_set:
        labels = ", ".join(v for v, _ in p.top_outputs[:6])
        return "label_set", f"{n:,} labelled examples of a fixed set of {p.distinct_outputs} labels ({labels})"
    if p.json_ratio >= 0.8:
        return "format", f"{n:,} examples whose outputs are JSON ({p.json_ratio:.0%})"
    if p.template_ratio >= 0.6:
        return "format", f"{n:,} examples whose outputs share one template ({p.template_ratio:.0%} of rows)"
    if p.distinct_ratio >= 0.8 and p.context_field:
        return "grounded", (f"{n:,} questions each answered from its own `{p.context_field}` passage "
                            f"({p.distinct_ratio:.0%} unique answers)")
    if p.distinct_ratio >= 0.8 and (p.question_ratio >= 0.5 or (p.input_words_median <= 4 and p.output_words_median >= 8)):
        return "facts", (f"{n:,} questions with unique answers ({p.distinct_ratio:.0%} distinct, median "
                         f"{p.output_words_median:.0f} words) — these rows look like facts")
    return "freeform", f"{n:,} input→output pairs with free-text outputs (median {p.output_words_median:.0f} words)"
