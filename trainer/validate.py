"""Row-level validation report: what is wrong with which line, and whether training can start.

Checks: missing/empty fields and wrong types (from ``data.map_rows``), exact duplicates (dropped),
conflicting duplicates (same prompt, different answers), rows over the plan's max token length
(with a histogram of token lengths against the cutoff), too few rows, and whether the task is a
closed label set (classification) or free-form.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from trainer.data import Example, LoadedData, RowIssue, UploadLimits

MAX_CLASSIFICATION_LABELS = 20


@dataclass
class ValidationReport:
    """What the user sees before starting: counts, issues by line, token lengths vs. the cutoff."""

    n_rows: int
    examples: list[Example]  # usable, de-duplicated rows, in file order
    issues: list[RowIssue]
    token_lengths: list[int] = field(default_factory=list)
    max_seq_length: int = 512
    task: str = "freeform"
    labels: list[str] | None = None

    @property
    def n_usable(self) -> int:
        return len(self.examples)

    @property
    def blocking(self) -> list[RowIssue]:
        """Issues that stop training (file-level errors, e.g. too few rows)."""
        return [i for i in self.issues if i.severity == "error" and i.row is None]

    @property
    def ok(self) -> bool:
        return not self.blocking

    @property
    def n_over(self) -> int:
        return sum(1 for n in self.token_lengths if n > self.max_seq_length)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for issue in self.issues:
            out[issue.kind] = out.get(issue.kind, 0) + 1
        return out

    def summary(self) -> str:
        parts = [f"{self.n_rows:,} rows read, {self.n_usable:,} usable"]
        skipped = sum(1 for i in self.issues if i.severity == "error" and i.row is not None)
        if skipped:
            parts.append(f"{skipped:,} skipped")
        if self.token_lengths:
            longest = max(self.token_lengths)
            parts.append(f"tokens per example: median {sorted(self.token_lengths)[len(self.token_lengths) // 2]}, max {longest}"
                         + (f" ({self.n_over} over the {self.max_seq_length}-token cutoff, truncated)" if self.n_over else ""))
        parts.append(f"task: {self.task}" + (f" ({', '.join(self.labels)})" if self.labels else ""))
        head = "; ".join(parts) + "."
        if self.blocking:
            head += " Cannot train: " + " ".join(i.message for i in self.blocking)
        return head

    def issue_rows(self, limit: int = 200) -> list[list[Any]]:
        """Table rows [severity, where, kind, message] for the UI/CLI, errors first."""
        ordered = sorted(self.issues, key=lambda i: (i.severity != "error", i.row or 0))
        return [[i.severity, i.where(), i.kind, i.message] for i in ordered[:limit]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_rows": self.n_rows, "n_usable": self.n_usable, "ok": self.ok, "task": self.task, "labels": self.labels,
            "max_seq_length": self.max_seq_length, "n_over_max_length": self.n_over,
            "max_tokens": max(self.token_lengths) if self.token_lengths else 0,
            "issue_counts": self.counts(), "issues": [i.__dict__ for i in self.issues[:500]],
        }

    def histogram_figure(self):
        """Matplotlib figure: token lengths per example with the max-length cutoff marked."""
        from matplotlib.figure import Figure  # a plain Figure: no pyplot, no process-wide backend

        fig = Figure(figsize=(6, 2.6), dpi=100)
        ax = fig.subplots()
        if self.token_lengths:
            top = max(max(self.token_lengths), self.max_seq_length)
            ax.hist(self.token_lengths, bins=min(40, max(5, len(set(self.token_lengths)))), range=(0, top * 1.05), color="#4C72B0")
        ax.axvline(self.max_seq_length, color="#C44E52", linestyle="--", label=f"cutoff {self.max_seq_length}")
        ax.set_xlabel("tokens per example (chat template applied)")
        ax.set_ylabel("examples")
        ax.legend(loc="upper right", fontsize=8)
        fig.tight_layout()
        return fig


def detect_task(completions: list[str]) -> tuple[str, list[str] | None]:
    """Classification when the answers are a small closed set of short labels, else free-form."""
    distinct = sorted(set(completions))
    if (
        2 <= len(distinct) <= MAX_CLASSIFICATION_LABELS
        and len(completions) >= 2 * len(distinct)
        and all(len(c) <= 40 and len(c.split()) <= 4 for c in distinct)
    ):
        return "classification", distinct
    return "freeform", None


def token_lengths(examples: list[Example], tokenizer, batch_size: int = 1000) -> list[int]:
    """Tokens of each example with the chat template applied (template overhead measured once)."""
    if not examples:
        return []
    empty = tokenizer.apply_chat_template(
        [{"role": "user", "content": ""}, {"role": "assistant", "content": ""}], tokenize=True
    )
    empty_ids = empty["input_ids"] if isinstance(empty, dict) or hasattr(empty, "keys") else empty
    overhead = len(empty_ids)
    out: list[int] = []
    for start in range(0, len(examples), batch_size):
        chunk = examples[start : start + batch_size]
        prompts = tokenizer([e.prompt for e in chunk], add_special_tokens=False)["input_ids"]
        answers = tokenizer([e.completion for e in chunk], add_special_tokens=False)["input_ids"]
        out.extend(overhead + len(p) + len(a) for p, a in zip(prompts, answers))
    return out


def validate(loaded: LoadedData, tokenizer=None, max_seq_length: int = 512, limits: UploadLimits | None = None) -> ValidationReport:
    """Build the report for a loaded file. ``tokenizer=None`` skips the token-length checks."""
    limits = limits or UploadLimits()
    issues = list(loaded.issues)
    seen: dict[str, tuple[str, int]] = {}
    kept: list[Example] = []
    conflicts = 0
    for ex in loaded.examples:
        key = " ".join(ex.prompt.split()).lower()
        if key in seen:
            first_answer, first_line = seen[key]
            if first_answer == ex.completion:
                issues.append(RowIssue("duplicate", f"duplicate of line {first_line}; dropped.", ex.row, ex.line, "warning"))
                continue
            conflicts += 1
            issues.append(RowIssue("conflict", f"same prompt as line {first_line} with a different answer; both kept, "
                                   "they stay on the same side of the split.", ex.row, ex.line, "warning"))
        else:
            seen[key] = (ex.completion, ex.line)
        kept.append(ex)
    report = ValidationReport(n_rows=loaded.n_rows, examples=kept, issues=issues, max_seq_length=max_seq_length)
    report.task, report.labels = detect_task([e.completion for e in kept])
    if tokenizer is not None and kept:
        report.token_lengths = token_lengths(kept, tokenizer)
        for ex, n in zip(kept, report.token_lengths):
            if n > max_seq_length:
                issues.append(RowIssue("too_long", f"{n:,} tokens, over the {max_seq_length}-token cutoff; it will be truncated "
                                       "(raise max_seq_length in the plan, or shorten the row).", ex.row, ex.line, "warning"))
    if len(kept) < limits.min_rows:
        why = "" if loaded.n_rows >= limits.min_rows else " (the file itself is too short)"
        issues.append(RowIssue("too_few_rows", f"Only {len(kept)} usable row(s){why}; at least {limits.min_rows} are needed "
                               "to train and hold some out for validation. Add rows or fix the skipped ones.", None, None, "error"))
    if kept and all(i.kind == "duplicate" for i in issues if i.row is not None) and len(kept) == 1 and loaded.n_rows > 1:
        issues.append(RowIssue("duplicate", "Every row is a copy of the first one: there is nothing to learn. Upload varied examples.",
                               None, None, "error"))
    return report
