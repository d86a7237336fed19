"""Load an uploaded training file and map its columns to ``(prompt, completion)`` pairs.

Reading the bytes (formats, encodings, delimiters, size limits) is ``trainer.table``. The column mapping (``DataSpec``) covers the common shapes: question/answer,
prompt/completion, instruction/input/output, chat ``messages``, and text/label classification
(numeric labels with a label-name map such as 0/1/2 -> bearish/bullish/neutral).

Nothing here crashes on bad input: problems with the file as a whole raise ``TrainerError`` naming
the fix; problems with single rows become ``RowIssue``s (with the row's line number) that the
validation report shows.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from trainer.errors import TrainerError
from trainer.table import FORMATS, UploadLimits, file_fingerprint, line_offset, read_table  # noqa: F401 - part of this API

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
    examples, issues = map_rows(ds, spec, line_offset(path.suffix.lower()))
    preview = [dict(r) for r in ds.select(range(min(ds.num_rows, 20)))]
    return LoadedData(path=path, spec=spec, columns=columns, n_rows=ds.num_rows, examples=examples,
                      issues=issues, preview=preview, fingerprint=file_fingerprint(path, spec))
