"""Read an uploaded training file's bytes into a ``datasets.Dataset``: file checks, encoding, delimiter.

Accepts CSV, TSV, JSON (an array of objects, or an object of columns), JSONL and Parquet; UTF-8 (with or
without a BOM) or UTF-16 text; comma-, semicolon-, tab- or pipe-separated tables. Problems with the file as a
whole raise ``TrainerError`` naming the fix. Mapping columns to training pairs is ``trainer.data``'s job.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fintune.text_files import decode_user_text, encoding_of
from trainer.errors import TrainerError

FORMATS = (".csv", ".tsv", ".json", ".jsonl", ".parquet")


@dataclass
class UploadLimits:
    """Guards against files the trainer cannot sensibly use on this machine."""

    max_file_mb: float = field(default=25.0, metadata={"help": "Largest accepted upload in MB; bigger files should be sampled first."})
    max_rows: int = field(default=50_000, metadata={"help": "Most rows used for one fine-tune on a laptop; take a sample for more."})
    min_rows: int = field(default=10, metadata={"help": "Fewest usable rows needed to train and still hold some out for validation."})

    def __post_init__(self) -> None:
        if self.max_file_mb <= 0 or self.max_rows < 1 or self.min_rows < 2:
            raise TrainerError("UploadLimits need max_file_mb > 0, max_rows >= 1 and min_rows >= 2.")


def file_fingerprint(path: str | Path, spec=None) -> str:
    """SHA-256 of the file bytes plus the column mapping: the data identity recorded with a run."""
    with open(path, "rb") as handle:
        digest = hashlib.file_digest(handle, "sha256")
    if spec is not None:
        digest.update(json.dumps(spec.to_dict(), sort_keys=True).encode())
    return digest.hexdigest()


def line_offset(suffix: str) -> int:
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
    encoding = encoding_of(data)
    text = decode_user_text(data, path.name, TrainerError, f"{suffix[1:].upper()} text")
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
