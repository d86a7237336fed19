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

from advisor.errors import AdvisorError

SUPPORTED = (".csv", ".tsv", ".jsonl", ".json", ".parquet")
# (input, output) column pairs we recognise, in order of preference; "context" is read when present.
_PAIRS = (
    ("prompt", "completion"), ("input", "output"), ("instruction", "output"), ("instruction", "response"),
    ("question", "answer"), ("query", "response"), ("source", "target"), ("text", "label"), ("sentence", "label"),
    ("text", "labels"), ("text", "category"), ("text", "target"), ("term", "definition"),
)
_CONTEXT_COLUMNS = ("context", "passage", "document", "evidence")
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
    """(inputs, outputs, contexts or None, (input_field, output_field, context_field)) from a data file."""
    path = Path(path).expanduser()
    if not path.exists():
        raise AdvisorError(f"Data file {path} does not exist. Pass the path of a CSV/JSONL file with input and output columns.")
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED:
        raise AdvisorError(f"Data file {path.name} has an unsupported type {suffix!r}. Use one of {', '.join(SUPPORTED)}.")
    import pandas as pd

    try:
        if suffix in (".csv", ".tsv"):
            df = pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",", nrows=limit, dtype=str, keep_default_na=False)
        elif suffix == ".jsonl":
            df = pd.read_json(path, lines=True, nrows=limit, dtype=False)
        elif suffix == ".json":
            raw = json.loads(path.read_text(encoding="utf-8"))
            df = pd.DataFrame(raw if isinstance(raw, list) else raw.get("data", raw))
        else:
            df = pd.read_parquet(path)
    except (ValueError, OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AdvisorError(f"Could not read {path.name}: {exc}. Check it is valid {suffix[1:].upper()} with a header / one object per line.") from exc
    if limit:
        df = df.head(limit)
    cols = {c.lower(): c for c in df.columns}
    if "messages" in cols:
        ins, outs = [], []
        for msgs in df[cols["messages"]]:
            users = [m.get("content", "") for m in msgs if m.get("role") == "user"]
            bots = [m.get("content", "") for m in msgs if m.get("role") == "assistant"]
            if users and bots:
                ins.append(str(users[-1]))
                outs.append(str(bots[-1]))
        return ins, outs, None, ("messages[user]", "messages[assistant]", None)
    pair = next(((cols[a], cols[b]) for a, b in _PAIRS if a in cols and b in cols), None)
    if pair is None:
        if len(df.columns) != 2:
            raise AdvisorError(
                f"{path.name} has columns {list(df.columns)}; could not tell input from output. Name them "
                "`prompt`/`completion`, `question`/`answer`, `input`/`output` or `text`/`label`."
            )
        pair = (df.columns[0], df.columns[1])
    ctx = next((cols[c] for c in _CONTEXT_COLUMNS if c in cols), None)
    df = df.dropna(subset=list(pair))
    ins = df[pair[0]].astype(str).tolist()
    outs = df[pair[1]].astype(str).tolist()
    contexts = df[ctx].astype(str).tolist() if ctx else None
    return ins, outs, contexts, (str(pair[0]), str(pair[1]), str(ctx) if ctx else None)


def _words(text: str) -> int:
    return len(text.split())


def _pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return float(ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))])


def _skeleton(text: str) -> str:
    """A multi-line output's structure: the leading label of each line ("Summary:", "- ", "1.")."""
    keys = []
    for line in text.strip().splitlines():
        line = line.strip()
        m = re.match(r"^([A-Za-z][\w ]{0,30}:|[-*•]|\d+[.)])", line)
        keys.append(m.group(1).lower() if m else "·")
    return "|".join(keys)


def profile(path: str | Path) -> DataProfile:
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
    p.kind, p.summary = _classify(p)
    return p


def _classify(p: DataProfile) -> tuple[str, str]:
    n = p.n_rows
    if n < 20:
        return "too_small", f"only {n} rows — too few to learn from; use them as few-shot examples in the prompt"
    if p.distinct_outputs <= 50 and p.top_coverage >= 0.95 and p.distinct_ratio <= 0.2 and p.output_words_median <= 5:
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
