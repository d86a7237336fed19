"""Load an uploaded training file and map its columns to ``(prompt, completion)`` pairs.

Accepts CSV, JSON (an array of objects, or an object of columns), JSONL and Parquet, all read with
``datasets``. The column mapping (``DataSpec``) covers the common shapes: question/answer,
prompt/completion, instruction/input/output, chat ``messages``, and text/label classification
(numeric labels with a label-name map such as 0/1/2 -> bearish/bullish/neutral).

Nothing here crashes on bad input: problems with the file as a whole raise ``TrainerError`` naming
the fix; problems with single rows become ``RowIssue``s (with the row's line number) that the
validation report shows.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from trainer.errors import TrainerError

FORMATS = (".csv", ".tsv", ".json", ".jsonl", ".parquet")
SHAPES = ("question_answer", "prompt_completion", "instruction", "messages", "text_label")

# The one table of column aliases (the trainer maps with it, the advisor profiles with it): for each shape,
# most specific first, {role: [candidate names]}.
_SHAPE_COLUMNS: list[tuple[str, dict[str, list[str]]]] = [
    ("messages", {"messages": ["messages", "conversations", "conversation", "chat"]}),
    ("instruction", {"prompt": ["instruction"], "context": ["input", "context"], "completion": ["output", "response"]}),
    ("prompt_completion", {"prompt": ["prompt", "input", "source"], "completion": ["completion", "response", "output", "target"]}),
    ("question_answer", {"prompt": ["question", "query", "q", "term"], "completion": ["answer", "answers", "a", "response", "definition"]}),
    ("text_label", {"prompt": ["text", "sentence", "tweet", "headline", "content"],
                    "completion": ["label", "labels", "sentiment", "class", "category", "target"]}),
]
# Passages an answer is grounded in. Training appends a context only in the instruction shape (its `input`);
# the advisor reads these to tell grounded QA from facts.
CONTEXT_COLUMNS = ("context", "passage", "document", "evidence")

# Label maps for well-known datasets, keyed by the set of label values. Users can always pass their own.
KNOWN_LABEL_MAPS: dict[frozenset, dict[str, str]] = {
    # Twitter Financial News Sentiment: 0 = bearish, 1 = bullish, 2 = neutral
    frozenset({"0", "1", "2"}): {"0": "bearish", "1": "bullish", "2": "neutral"},
}


@dataclass
class UploadLimits:
    """Guards against files the trainer cannot sensibly use on this machine."""

    max_file_mb: float = field(default=25.0, metadata={"help": "Largest accepted upload in MB; bigger files should be sampled first."})
    max_rows: int = field(default=50_000, metadata={"help": "Most rows used for one fine-tune on a laptop; take a sample for more."})
    min_rows: int = field(default=10, metadata={"help": "Fewest usable rows needed to train and still hold some out for validation."})

    def __post_init__(self) -> None:
        if self.max_file_mb <= 0 or self.max_rows < 1 or self.min_rows < 2:
            raise TrainerError("UploadLimits need max_file_mb > 0, max_rows >= 1 and min_rows >= 2.")


@dataclass
class DataSpec:
    """How to read one uploaded file: which columns hold the user text and the answer."""

    shape: str = field(default="question_answer", metadata={"help": f"One of {SHAPES}."})
    prompt_column: str | None = field(default=None, metadata={"help": "Column with the user's text (question / prompt / instruction / text)."})
    completion_column: str | None = field(default=None, metadata={"help": "Column with the answer the model should learn (answer / completion / output / label)."})
    context_column: str | None = field(default=None, metadata={"help": "Optional extra input appended to the prompt (instruction shape: `input`)."})
    messages_column: str | None = field(default=None, metadata={"help": "Column with a chat: a list of {role, content} (messages shape)."})
    label_names: dict[str, str] | None = field(default=None, metadata={"help": "Label value -> label name for classification, e.g. {'0': 'bearish'}."})
    prompt_template: str | None = field(default=None, metadata={"help": "Optional template for the user text, with {text}, e.g. 'Sentiment of: {text}'."})

    def __post_init__(self) -> None:
        if self.shape not in SHAPES:
            raise TrainerError(f"Unknown data shape '{self.shape}'. Choose one of: {', '.join(SHAPES)}.")
        if self.shape == "messages":
            if not self.messages_column:
                raise TrainerError("The messages shape needs `messages_column` (the column holding the chat list).")
        elif not (self.prompt_column and self.completion_column):
            raise TrainerError(f"The {self.shape} shape needs both a prompt column and a completion column; pick them in the column mapping.")
        if self.prompt_template is not None and "{text}" not in self.prompt_template:
            raise TrainerError("The prompt template must contain {text} where the row's text goes, e.g. 'Sentiment of: {text}'.")
        if self.label_names is not None:
            self.label_names = {str(k): str(v) for k, v in self.label_names.items()}

    def columns(self) -> list[str]:
        return [c for c in (self.prompt_column, self.completion_column, self.context_column, self.messages_column) if c]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "DataSpec":
        return cls(**data)

    @classmethod
    def from_user_input(cls, columns: list[str] | None = None, shape: str | None = "auto", prompt_column: str | None = None,
                        completion_column: str | None = None, label_map: str | dict | None = None,
                        prompt_template: str | None = None) -> "DataSpec | None":
        """The mapping a user chose (``fintune train`` flags or the Train tab's column mapping) -> a DataSpec.

        Returns None when the choice adds nothing to detection from the header (``load_data`` then detects the
        mapping, including a known label map). Choices left empty are filled from detection on ``columns``.
        """
        label_names = parse_label_map(label_map)
        template = (prompt_template or "").strip() or None
        shape = shape or "auto"
        try:
            base = detect_spec(list(columns)) if columns else None
        except TrainerError:
            base = None
        prompt = prompt_column or (base.prompt_column if base else None)
        completion = completion_column or (base.completion_column if base else None)
        if shape == "auto" and not label_names and not template:
            same_columns = base is not None and (prompt, completion) == (base.prompt_column, base.completion_column)
            if same_columns or not (prompt_column or completion_column):
                return None
        if shape == "messages":
            return cls(shape="messages", messages_column=prompt_column or (base.messages_column if base else None) or "messages")
        if shape == "auto":
            shape = "text_label" if label_names else (base.shape if base and base.shape != "messages" else "prompt_completion")
        return cls(shape=shape, prompt_column=prompt, completion_column=completion, label_names=label_names,
                   context_column=base.context_column if base else None, prompt_template=template)


def parse_label_map(label_map: str | dict | None) -> dict[str, str] | None:
    """A user's label map (JSON text or a dict) -> {value: name}, or None when empty; TrainerError with the fix."""
    if isinstance(label_map, dict):
        return label_map or None
    if not (label_map or "").strip():
        return None
    example = '{"0": "bearish", "1": "bullish"}'
    try:
        parsed = json.loads(label_map)
    except json.JSONDecodeError as exc:
        raise TrainerError(f"The label map is not valid JSON ({exc.msg}). Write it like {example}.") from None
    if not isinstance(parsed, dict):
        raise TrainerError(f"The label map must be a JSON object such as {example}.")
    return parsed or None


@dataclass
class Example:
    """One usable training pair, with where it came from (1-based data row and the file line)."""

    prompt: str
    completion: str
    row: int
    line: int


@dataclass
class RowIssue:
    """A problem with one row (or the file), shown in the validation report."""

    kind: str  # missing | empty | wrong_type | duplicate | conflict | too_long | unknown_label | file
    message: str
    row: int | None = None
    line: int | None = None
    severity: str = "warning"  # "error" = the row is skipped (or the file can't be used); "warning" = kept

    def where(self) -> str:
        return f"line {self.line}" if self.line else ("file" if self.row is None else f"row {self.row}")


@dataclass
class LoadedData:
    """A loaded upload: the usable pairs, the row issues found while mapping, and what was detected."""

    path: Path
    spec: DataSpec
    columns: list[str]
    n_rows: int
    examples: list[Example]
    issues: list[RowIssue]
    preview: list[dict[str, Any]]
    fingerprint: str


# ----------------------------------------------------------------------------------------------- reading
def file_fingerprint(path: str | Path, spec: DataSpec | None = None) -> str:
    """SHA-256 of the file bytes plus the column mapping: the data identity recorded with a run."""
    with open(path, "rb") as handle:
        digest = hashlib.file_digest(handle, "sha256")
    if spec is not None:
        digest.update(json.dumps(spec.to_dict(), sort_keys=True).encode())
    return digest.hexdigest()


def _line_offset(suffix: str) -> int:
    """File line of data row 1: after the header for CSV/TSV, line 1 for JSONL."""
    return 2 if suffix in (".csv", ".tsv") else 1


@dataclass
class FileFormat:
    """How to read an upload's bytes: the effective format, the text encoding and (CSV/TSV) the delimiter."""

    suffix: str
    encoding: str = "utf-8"
    delimiter: str | None = None


# Delimiters spreadsheet programs write: comma, semicolon (locales with a decimal comma), tab ("Unicode text").
_DELIMITERS = (",", ";", "\t", "|")
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}


def _encoding_of(data: bytes) -> str:
    """UTF-8, UTF-8 with a BOM, or UTF-16 (Excel's "Unicode text" export), from the BOM or the NUL pattern."""
    if data.startswith(codecs.BOM_UTF16_LE) or data.startswith(codecs.BOM_UTF16_BE):
        return "utf-16"
    head = data[:4096]
    if len(head) >= 4 and head[1::2].count(0) > 0.4 * len(head[1::2]) and head[0::2].count(0) == 0:
        return "utf-16-le"
    if len(head) >= 4 and head[0::2].count(0) > 0.4 * len(head[0::2]) and head[1::2].count(0) == 0:
        return "utf-16-be"
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    return "utf-8"


def _delimiter_of(header: str, suffix: str) -> str:
    """The header's delimiter: the candidate that splits it most (outside quotes); TSV files are tab-separated."""
    if suffix == ".tsv":
        return "\t"
    unquoted = re.sub(r'"[^"]*"', "", header)
    counts = {d: unquoted.count(d) for d in _DELIMITERS}
    best = max(_DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] > counts[","] else ","


def _check_bytes(path: Path, limits: UploadLimits) -> FileFormat:
    """File-level checks before parsing; returns how to read the file."""
    if not path.is_file():
        raise TrainerError(f"File not found: {path} does not exist. Upload the file again or check the path.")
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise TrainerError(f"'{path.name}' has an unsupported type ({suffix or 'no extension'}). "
                           f"Upload a CSV, TSV, JSON, JSONL or Parquet file ({', '.join(FORMATS)}).")
    size = path.stat().st_size
    if size == 0:
        raise TrainerError(f"'{path.name}' is empty (0 bytes). Upload a file with a header and at least {limits.min_rows} rows.")
    if size > limits.max_file_mb * 1e6:
        raise TrainerError(
            f"'{path.name}' is {size / 1e6:.1f} MB; the limit is {limits.max_file_mb:.0f} MB. "
            f"Upload a sample (for example the first {limits.max_rows:,} rows) or raise the limit (--max-file-mb)."
        )
    if suffix == ".parquet":
        with open(path, "rb") as handle:
            if handle.read(4) != b"PAR1":
                raise TrainerError(f"'{path.name}' is not a valid Parquet file (no PAR1 header). Export it again as Parquet, or as CSV.")
        return FileFormat(suffix)
    data = path.read_bytes()
    encoding = _encoding_of(data)
    if encoding.startswith("utf-16"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            raise TrainerError(
                f"'{path.name}' looks like UTF-16 text (Excel's \"Unicode text\") but does not decode as UTF-16. "
                "Re-save it as UTF-8 (in Excel: Save As -> 'CSV UTF-8')."
            ) from None
    else:
        if b"\x00" in data[: 1 << 16]:
            raise TrainerError(f"'{path.name}' looks like a binary file, not {suffix[1:].upper()} text. Upload a plain-text CSV/TSV/JSON/JSONL file (or Parquet).")
        # Whole-file UTF-8 check, reporting the line of the first bad byte.
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            raise TrainerError(
                f"'{path.name}' is not UTF-8 text (bad byte 0x{data[exc.start]:02x} on line {line}). "
                "Re-save it as UTF-8 (in Excel: Save As -> 'CSV UTF-8'; in Python: encoding='utf-8')."
            ) from None
    text = text.lstrip("\ufeff")
    if not text.strip():
        raise TrainerError(f"'{path.name}' contains only whitespace. Upload a file with a header and at least {limits.min_rows} rows.")
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if suffix in (".csv", ".tsv"):
        if len(lines) <= 1:
            raise TrainerError(f"'{path.name}' has a header but no data rows (no rows to learn from). Add at least {limits.min_rows} rows under the header.")
        return FileFormat(suffix, encoding, _delimiter_of(lines[0], suffix))
    if suffix == ".json" and text.lstrip()[:1] not in ("[", "{"):
        raise TrainerError(f"'{path.name}' is not JSON (it should start with '[' or '{{'). If it has one object per line, name it .jsonl.")
    if suffix == ".json" and text.lstrip()[:1] == "{" and "\n{" in text.strip():
        suffix = ".jsonl"  # one object per line saved as .json: read it as JSON lines
    return FileFormat(suffix, encoding)


def read_table(path: str | Path, limits: UploadLimits | None = None):
    """Read the file into a ``datasets.Dataset`` (all columns), or raise TrainerError with the fix."""
    limits = limits or UploadLimits()
    path = Path(path)
    fmt = _check_bytes(path, limits)
    suffix = fmt.suffix
    import datasets

    datasets.disable_progress_bars()
    builder = {".csv": "csv", ".tsv": "csv", ".json": "json", ".jsonl": "json", ".parquet": "parquet"}[suffix]
    kwargs: dict[str, Any] = {}
    if builder == "csv":
        kwargs["keep_default_na"] = False  # keep empty cells as "" so they are reported as empty, not NaN
        kwargs["sep"] = fmt.delimiter
    if builder in ("csv", "json") and fmt.encoding != "utf-8":
        kwargs["encoding"] = fmt.encoding
    try:
        ds = datasets.load_dataset(builder, data_files=str(path), split="train", cache_dir=None, keep_in_memory=True, **kwargs)
    except Exception as exc:  # datasets raises many types for unparsable files
        if "corresponds to no data" in str(exc):
            raise TrainerError(f"'{path.name}' has no data rows. Add at least {limits.min_rows} rows.") from None
        cause = exc
        while cause.__cause__ is not None:
            cause = cause.__cause__
        first = (str(cause).strip().splitlines() or [type(cause).__name__])[0][:300]
        how = f" ({_DELIMITER_NAMES[fmt.delimiter]}-separated, {fmt.encoding})" if fmt.delimiter else ""
        raise TrainerError(
            f"Could not parse '{path.name}' as {suffix[1:].upper()}{how}: {first}. "
            "Check that the file is well-formed (consistent columns, quoted fields with commas, valid JSON on every line)."
        ) from None
    if ds.num_rows == 0:
        raise TrainerError(f"'{path.name}' has a header but no data rows. Add at least {limits.min_rows} rows.")
    if ds.num_rows > limits.max_rows:
        raise TrainerError(
            f"'{path.name}' has {ds.num_rows:,} rows; the limit is {limits.max_rows:,} for one fine-tune here. "
            "Upload a random sample, or raise the limit (--max-rows)."
        )
    return ds


# ----------------------------------------------------------------------------------------------- mapping
def known_label_map(values: frozenset[str]) -> dict[str, str] | None:
    """A built-in label map that fits these label values (a stray value or two is reported per row later)."""
    for keys, mapping in KNOWN_LABEL_MAPS.items():
        if (len(values) >= 2 and values <= keys) or (keys <= values and len(values - keys) <= 2):
            return dict(mapping)
    return None


def detect_spec(columns: list[str], sample_labels: list[Any] | None = None) -> DataSpec:
    """Guess the column mapping from the header; raise TrainerError listing the columns when none fits."""
    lower = {c.lower().strip(): c for c in columns}
    for shape, roles in _SHAPE_COLUMNS:
        found: dict[str, str] = {}
        for role, names in roles.items():
            for name in names:
                if name in lower:
                    found[role] = lower[name]
                    break
        required = {"messages"} if shape == "messages" else {"prompt", "completion"}
        if required <= set(found):
            spec = DataSpec(
                shape=shape,
                prompt_column=found.get("prompt"),
                completion_column=found.get("completion"),
                context_column=found.get("context"),
                messages_column=found.get("messages"),
            )
            if shape == "text_label" and sample_labels is not None:
                values = frozenset(str(v) for v in sample_labels if v is not None and str(v) != "")
                spec.label_names = known_label_map(values)
            return spec
    raise TrainerError(
        f"Could not tell which columns to train on; the file has columns {columns}. "
        "Use one of: question/answer, prompt/completion, instruction/input/output, messages (chat), or text/label; "
        "or choose the prompt and answer columns in the column mapping (--prompt-column/--completion-column)."
    )


def _as_text(value: Any) -> tuple[str | None, str | None]:
    """(text, problem): strings pass; numbers/bools are converted with a note; others are a type problem."""
    if value is None:
        return None, "missing"
    if isinstance(value, str):
        return value, None
    if isinstance(value, bool) or isinstance(value, (int, float)):
        if isinstance(value, float) and value != value:  # NaN
            return None, "missing"
        return (str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)), "converted"
    return None, f"wrong_type:{type(value).__name__}"


def _messages_to_pair(value: Any) -> tuple[str, str] | str:
    """A chat list -> (user text, last assistant reply) or an error string."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return "is text, not a list of {role, content} messages"
    if not isinstance(value, list) or not value:
        return "is not a non-empty list of {role, content} messages"
    turns = []
    for msg in value:
        if not isinstance(msg, dict) or "content" not in msg or ("role" not in msg and "from" not in msg):
            return "has an item without 'role' and 'content'"
        role = str(msg.get("role", msg.get("from"))).lower()
        role = {"human": "user", "gpt": "assistant", "bot": "assistant"}.get(role, role)
        turns.append((role, msg.get("content") if isinstance(msg.get("content"), str) else msg.get("value", msg.get("content"))))
    if turns[-1][0] != "assistant":
        return "does not end with an assistant message (the answer to learn)"
    answer = turns[-1][1]
    context = [f"{content}" if role == "user" else f"[{role}] {content}" for role, content in turns[:-1] if role != "system"]
    if not context:
        return "has no user message before the assistant answer"
    if not isinstance(answer, str) or not all(isinstance(c, str) for c in context):
        return "has a message whose content is not text"
    return "\n\n".join(context), answer


def map_rows(ds, spec: DataSpec, line_offset: int = 1) -> tuple[list[Example], list[RowIssue]]:
    """Turn table rows into Examples; rows that cannot be used become RowIssues (severity "error")."""
    missing = [c for c in spec.columns() if c not in ds.column_names]
    if missing:
        raise TrainerError(f"Column(s) {missing} are not in the file (it has {ds.column_names}). Pick existing columns in the column mapping.")
    examples: list[Example] = []
    issues: list[RowIssue] = []
    label_names = spec.label_names or {}
    converted: dict[str, list[int]] = {}
    for idx, record in enumerate(ds.select_columns(spec.columns())):
        row, line = idx + 1, idx + line_offset

        def problem(kind: str, message: str, severity: str = "error") -> None:
            issues.append(RowIssue(kind=kind, message=message, row=row, line=line, severity=severity))

        if spec.shape == "messages":
            pair = _messages_to_pair(record[spec.messages_column])
            if isinstance(pair, str):
                problem("wrong_type", f"`{spec.messages_column}` {pair}; the row is skipped.")
                continue
            prompt, completion = pair
        else:
            values = {}
            bad = False
            for role, column in (("prompt", spec.prompt_column), ("completion", spec.completion_column), ("context", spec.context_column)):
                if column is None:
                    continue
                text, note = _as_text(record[column])
                if note == "missing":
                    if role == "context":
                        values[role] = ""
                        continue
                    problem("missing", f"`{column}` is missing; the row is skipped.")
                    bad = True
                    break
                if note and note.startswith("wrong_type"):
                    problem("wrong_type", f"`{column}` is a {note.split(':', 1)[1]}, expected text; the row is skipped.")
                    bad = True
                    break
                if note == "converted" and not (role == "completion" and spec.shape == "text_label"):
                    converted.setdefault(column, []).append(line)
                values[role] = text
            if bad:
                continue
            prompt, completion = values["prompt"], values["completion"]
            if values.get("context", "").strip():
                prompt = f"{prompt}\n\n{values['context']}"
            if spec.shape == "text_label" and label_names:
                if completion.strip() not in label_names:
                    if completion.strip() in label_names.values():
                        completion = completion.strip()
                    else:
                        problem("unknown_label", f"label {completion!r} is not in the label map {sorted(label_names)}; the row is skipped.")
                        continue
                else:
                    completion = label_names[completion.strip()]
        if not prompt.strip():
            problem("empty", "the prompt/text is empty; the row is skipped.")
            continue
        if not completion.strip():
            problem("empty", "the answer/label is empty; the row is skipped.")
            continue
        if spec.prompt_template:
            prompt = spec.prompt_template.replace("{text}", prompt)
        examples.append(Example(prompt=prompt.strip(), completion=completion.strip(), row=row, line=line))
    for column, lines in converted.items():
        shown = ", ".join(str(n) for n in lines[:5]) + (" ..." if len(lines) > 5 else "")
        issues.append(RowIssue(kind="wrong_type", severity="warning",
                               message=f"`{column}` holds numbers on {len(lines)} row(s) (lines {shown}); they were used as text."))
    return examples, issues


def load_data(path: str | Path, spec: DataSpec | None = None, limits: UploadLimits | None = None) -> LoadedData:
    """Read + map a file. ``spec=None`` detects the mapping from the header."""
    path = Path(path)
    ds = read_table(path, limits)
    columns = list(ds.column_names)
    if spec is None:
        spec = detect_spec(columns)
        if spec.shape == "text_label":  # numeric labels of a well-known dataset get their names
            sample = ds.select(range(min(ds.num_rows, 5000)))[spec.completion_column]
            spec.label_names = known_label_map(frozenset(str(v) for v in sample if v is not None and str(v) != ""))
    examples, issues = map_rows(ds, spec, _line_offset(path.suffix.lower()))
    preview = [dict(r) for r in ds.select(range(min(ds.num_rows, 20)))]
    return LoadedData(path=path, spec=spec, columns=columns, n_rows=ds.num_rows, examples=examples,
                      issues=issues, preview=preview, fingerprint=file_fingerprint(path, spec))
