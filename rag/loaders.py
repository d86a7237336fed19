"""Read glossary files (CSV, JSON, JSONL) into ``Entry`` objects, with column mapping and row-level errors.

Columns are found automatically (``term``/``name``/``word`` ..., ``definition``/``description``/``meaning`` ...)
or mapped explicitly: ``mapping={"term": "Headword", "definition": "Gloss"}``. Rows that repeat a term are
merged into one entry with numbered senses; identical rows are dropped and reported.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from fintune.text_files import decode_user_text, json_lines
from rag.entries import Entry
from rag.errors import RagError
from rag.text import norm

FIELDS = ("term", "definition", "synonyms", "category", "source")
REQUIRED = ("term", "definition")
# Column names recognised for each field, in order of preference (compared case- and separator-insensitively).
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "term": ("term", "name", "word", "headword", "title", "concept", "label", "keyword", "entry"),
    "definition": ("definition", "description", "meaning", "gloss", "explanation", "desc", "text", "body"),
    "synonyms": ("synonyms", "synonym", "aliases", "alias", "abbreviations", "abbreviation", "aka", "also_known_as", "alt_labels", "other_names"),
    "category": ("category", "module", "domain", "topic", "area", "subject", "kind", "type", "pos"),
    "source": ("source",),
}
FORMATS = ("csv", "tsv", "json", "jsonl")
MAX_TERM_CHARS = 200
MAX_DEFINITION_CHARS = 4000
_LIST_KEYS = ("entries", "terms", "glossary", "items", "data", "rows")
_SYN_SPLIT = re.compile(r"\s*[;|]\s*")


@dataclass(frozen=True)
class RowProblem:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass
class LoadResult:
    """What a file yielded: entries (senses merged) and what was dropped on the way."""

    path: Path
    format: str
    columns: dict[str, str]
    entries: list[Entry]
    rows: int
    duplicate_rows: list[RowProblem] = field(default_factory=list)
    merged_senses: int = 0
    invalid: list[RowProblem] = field(default_factory=list)


def default_source(path: str | Path) -> str:
    """A source name derived from the file name: ``fibo_glossary_all.jsonl`` -> ``fibo_glossary_all``."""
    stem = Path(path).name.split(".")[0]
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", stem).strip("_") or "imported"


def parse_mapping(spec: str | Iterable[str] | None) -> dict[str, str]:
    """``"term=Name,definition=Gloss"`` (or a list of ``field=column``) -> dict; unknown fields are an error."""
    if not spec:
        return {}
    parts = spec.split(",") if isinstance(spec, str) else [p for item in spec for p in str(item).split(",")]
    mapping: dict[str, str] = {}
    for part in (p.strip() for p in parts):
        if not part:
            continue
        name, sep, column = part.partition("=")
        name = name.strip().lower()
        if not sep or not column.strip():
            raise RagError(f"Column mapping {part!r} is not of the form field=column. Example: --map term=Name,definition=Gloss.")
        if name not in FIELDS:
            raise RagError(f"Column mapping names an unknown field {name!r}. Map one of: {', '.join(FIELDS)}.")
        mapping[name] = column.strip()
    return mapping


def load_file(path: str | Path, *, mapping: dict[str, str] | None = None, source: str | None = None,
              fmt: str | None = None, skip_invalid: bool = False) -> LoadResult:
    """Read a glossary file. Raises ``RagError`` (never a traceback) for unusable files or invalid rows.

    ``skip_invalid`` drops invalid rows (reported in ``LoadResult.invalid``) instead of refusing the file.
    """
    path = Path(path).expanduser()
    text = _read_text(path)
    fmt = (fmt or _detect_format(path, text)).lower()
    if fmt not in FORMATS:
        raise RagError(f"Unknown glossary format {fmt!r} for {path.name}. Use one of: {', '.join(FORMATS)}.")
    if fmt in ("csv", "tsv"):
        columns, rows = _read_csv(path, text, delimiter="\t" if fmt == "tsv" else None)
    elif fmt == "json":
        columns, rows = _read_json(path, text)
    else:
        columns, rows = _read_jsonl(path, text)
    colmap = _resolve_columns(path, columns, mapping or {})
    src = (source or "").strip() or default_source(path)
    entries, invalid, duplicates, merged = _to_entries(rows, colmap, src)
    if invalid and not skip_invalid:
        shown = "; ".join(str(p) for p in invalid[:5])
        more = f" (and {len(invalid) - 5} more)" if len(invalid) > 5 else ""
        raise RagError(
            f"{path.name} has {len(invalid)} invalid row(s): {shown}{more}. "
            "Fix those rows, or import the valid rows only with --skip-invalid."
        )
    if not entries:
        why = f"all {len(invalid)} rows are invalid ({invalid[0]})" if invalid else "it contains no rows"
        raise RagError(f"No glossary entries found in {path.name}: {why}. Each row needs a term and a definition.")
    return LoadResult(path, fmt, colmap, entries, len(rows), duplicates, merged, invalid)


# ----- reading ---------------------------------------------------------------------------------
def _read_text(path: Path) -> str:
    if not path.exists():
        raise RagError(f"Glossary file {path} does not exist. Check the path (relative paths start from the current folder).")
    if path.is_dir():
        raise RagError(f"{path} is a folder, not a glossary file. Pass a .csv, .json or .jsonl file.")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise RagError(f"Could not read {path}: {exc.strerror or exc}. Check the file permissions.") from exc
    if not data.strip():
        raise RagError(f"{path.name} is empty. A glossary file needs rows with a term and a definition.")
    return decode_user_text(data, path.name, RagError, "a CSV/JSON/JSONL glossary")


def _detect_format(path: Path, text: str) -> str:
    suffix = path.suffix.lower().lstrip(".")
    if suffix in ("jsonl", "ndjson"):
        return "jsonl"
    if suffix in FORMATS:
        return suffix
    first = text.lstrip()[:1]
    if first == "[":
        return "json"
    if first == "{":
        # A whole JSON document or one object per line?
        try:
            json.loads(text)
            return "json"
        except json.JSONDecodeError:
            return "jsonl"
    return "csv"


def _read_csv(path: Path, text: str, delimiter: str | None) -> tuple[list[str], list[tuple[int, dict[str, Any]]]]:
    if delimiter is None:
        try:
            delimiter = csv.Sniffer().sniff(text[:4096], delimiters=",;\t|").delimiter
        except csv.Error:
            delimiter = ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise RagError(f"{path.name} has no header row. The first line must name the columns, e.g. term,definition.") from None
    except csv.Error as exc:
        raise RagError(f"{path.name} is not valid CSV ({exc}). Check quoting on the first line.") from None
    header = [h.strip() for h in header]
    if len(header) < 2:
        raise RagError(
            f"{path.name} has only one column ({header[0]!r}); a glossary needs at least a term and a definition column. "
            "If the file uses another separator, save it as comma-separated CSV."
        )
    rows: list[tuple[int, dict[str, Any]]] = []
    line = reader.line_num
    try:
        for values in reader:
            start, line = line + 1, reader.line_num
            if not any(v.strip() for v in values):
                continue
            if len(values) > len(header):
                extra = [v for v in values[len(header):] if v.strip()]
                if extra:
                    rows.append((start, {"__error__": f"{len(values)} values but the header has {len(header)} columns (unquoted separator?)"}))
                    continue
            rows.append((start, dict(zip(header, values))))
    except csv.Error as exc:
        raise RagError(f"{path.name} is not valid CSV near line {reader.line_num}: {exc}. Check the quoting there.") from None
    return header, rows


def _read_json(path: Path, text: str) -> tuple[list[str], list[tuple[int, dict[str, Any]]]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RagError(f"{path.name} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}. Fix it or save the glossary as CSV/JSONL.") from None
    if isinstance(data, dict):
        for key in _LIST_KEYS:
            if isinstance(data.get(key), list):
                data = data[key]
                break
        else:
            if data and all(isinstance(v, str) for v in data.values()):  # {"term": "definition", ...}
                data = [{"term": k, "definition": v} for k, v in data.items()]
            else:
                raise RagError(
                    f"{path.name} is a JSON object without a list of entries. Use a list of objects "
                    f'([{{"term": ..., "definition": ...}}]), an object with an "entries" list, or {{"term": "definition"}} pairs.'
                )
    if not isinstance(data, list):
        raise RagError(f"{path.name} holds a JSON {type(data).__name__}, not a list of entries. Use [{{\"term\": ..., \"definition\": ...}}, ...].")
    # JSON has no reliable row lines; number rows as entries (1-based) and say so.
    rows = [(i, r if isinstance(r, dict) else {"__error__": f"entry is a {type(r).__name__}, expected an object"}) for i, r in enumerate(data, 1)]
    return _columns_of(r for _, r in rows), rows


def _read_jsonl(path: Path, text: str) -> tuple[list[str], list[tuple[int, dict[str, Any]]]]:
    rows: list[tuple[int, dict[str, Any]]] = []
    bad_json = 0
    for number, line in enumerate(json_lines(text), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            bad_json += 1
            rows.append((number, {"__error__": f"not valid JSON ({exc.msg}, column {exc.colno})"}))
            continue
        rows.append((number, row if isinstance(row, dict) else {"__error__": f"a JSON {type(row).__name__}, expected an object"}))
    if rows and bad_json == len(rows):
        raise RagError(f"{path.name} is not JSON Lines: no line parses as JSON ({rows[0][1]['__error__']} on line {rows[0][0]}). Save it as CSV, JSON or one JSON object per line.")
    return _columns_of(r for _, r in rows), rows


def _columns_of(rows: Iterable[dict[str, Any]]) -> list[str]:
    seen: dict[str, None] = {}
    for row in rows:
        for key in row:
            if key != "__error__":
                seen.setdefault(str(key), None)
    return list(seen)


# ----- mapping and validation ------------------------------------------------------------------------
def _canon(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _resolve_columns(path: Path, columns: list[str], mapping: dict[str, str]) -> dict[str, str]:
    by_canon = {_canon(c): c for c in columns}
    resolved: dict[str, str] = {}
    for name, column in mapping.items():
        if name not in FIELDS:
            raise RagError(f"Column mapping names an unknown field {name!r}. Map one of: {', '.join(FIELDS)}.")
        actual = column if column in columns else by_canon.get(_canon(column))
        if actual is None:
            raise RagError(f"Column {column!r} (mapped to `{name}`) is not in {path.name}. Its columns are: {', '.join(columns) or '(none)'}.")
        resolved[name] = actual
    used = set(resolved.values())
    for name, aliases in COLUMN_ALIASES.items():
        if name in resolved:
            continue
        for alias in aliases:
            actual = by_canon.get(_canon(alias))
            if actual is not None and actual not in used:
                resolved[name] = actual
                used.add(actual)
                break
    missing = [name for name in REQUIRED if name not in resolved]
    if missing:
        need = " and ".join(f"`{m}`" for m in missing)
        example = ",".join(f"{m}=<column>" for m in missing)
        raise RagError(
            f"{path.name} has no column for {need}. Found columns: {', '.join(columns) or '(none)'}. "
            f"Rename the columns (e.g. term, definition) or map them with --map {example}."
        )
    return resolved


def _synonyms(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        items = [str(v) for v in value if v is not None]
    else:
        items = _SYN_SPLIT.split(str(value))
    return [s.strip() for s in items if s and s.strip()]


def _to_entries(rows: list[tuple[int, dict[str, Any]]], colmap: dict[str, str], source: str):
    invalid: list[RowProblem] = []
    duplicates: list[RowProblem] = []
    groups: dict[str, dict[str, Any]] = {}  # norm(term) within a row's source -> merged data
    merged = 0
    for line, row in rows:
        if "__error__" in row:
            invalid.append(RowProblem(line, row["__error__"]))
            continue
        term = _scalar(row.get(colmap["term"]))
        definition = _scalar(row.get(colmap["definition"]))
        problems = []
        if not term:
            problems.append(f"`term` (column {colmap['term']!r}) is missing or empty")
        elif len(term) > MAX_TERM_CHARS:
            problems.append(f"`term` is {len(term)} characters long (over {MAX_TERM_CHARS}); are the term and definition columns swapped?")
        if not definition:
            problems.append(f"`definition` (column {colmap['definition']!r}) is missing or empty")
        elif len(definition) > MAX_DEFINITION_CHARS:
            problems.append(f"`definition` is {len(definition)} characters long (over {MAX_DEFINITION_CHARS}); shorten it")
        if problems:
            invalid.append(RowProblem(line, "; ".join(problems)))
            continue
        row_source = _scalar(row.get(colmap["source"])) if "source" in colmap else ""
        key = f"{norm(term)}\x00{row_source or source}"
        synonyms = _synonyms(row.get(colmap["synonyms"])) if "synonyms" in colmap else []
        category = _scalar(row.get(colmap["category"])) if "category" in colmap else ""
        group = groups.get(key)
        if group is None:
            groups[key] = {"term": term, "definitions": [definition], "def_keys": {norm(definition)}, "synonyms": synonyms,
                           "category": category, "source": row_source or source, "line": line}
            continue
        if norm(definition) in group["def_keys"]:
            duplicates.append(RowProblem(line, f"repeats {term!r} from line {group['line']}"))
            continue
        merged += 1
        group["definitions"].append(definition)
        group["def_keys"].add(norm(definition))
        group["synonyms"] += [s for s in synonyms if s not in group["synonyms"]]
    entries = []
    for group in groups.values():
        defs = group["definitions"]
        text = defs[0] if len(defs) == 1 else " ".join(f"({i}) {d.rstrip()}" for i, d in enumerate(defs, 1))
        syns = tuple(dict.fromkeys(s for s in group["synonyms"] if norm(s) != norm(group["term"])))
        entries.append(Entry(group["term"], text, syns, group["category"], group["source"]))
    return entries, invalid, duplicates, merged


def _scalar(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        value = "; ".join(str(v) for v in value if v is not None)
    return re.sub(r"\s+", " ", str(value)).strip()
