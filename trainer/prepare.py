"""Turn an upload + plan into a queued run folder: keep the file, validate, split, record everything.

``inspect_upload`` is the read-only part the Train tab shows (preview, report, histogram);
``prepare_run`` writes the run folder the job consumes.
"""

from __future__ import annotations

import hashlib
import random
import shutil
from pathlib import Path
from typing import Any

from fintune import paths
from trainer import registry
from trainer.data import DataSpec, LoadedData, UploadLimits, load_data
from trainer.errors import TrainerError
from trainer.plan import TrainPlan
from trainer.prompts import system_prompt_for
from trainer.split import split_examples
from trainer.validate import ValidationReport, validate


def keep_upload(path: str | Path) -> Path:
    """Copy an uploaded file into ``uploads_dir()`` under a content-addressed name (kept for good)."""
    src = Path(path)
    if not src.is_file():
        raise TrainerError(f"File not found: {src}. Upload it again.")
    uploads = paths.uploads_dir()
    if src.resolve().is_relative_to(uploads.resolve()):
        return src
    with open(src, "rb") as handle:
        digest = hashlib.file_digest(handle, "sha256").hexdigest()[:12]
    dest = uploads / f"{digest}-{src.name}"
    if not dest.exists():
        shutil.copyfile(src, dest)
    return dest


def load_tokenizer_for(base_model: str | None):
    from fintune.models import load_tokenizer

    return load_tokenizer(base_model)


def inspect_upload(path: str | Path, spec: DataSpec | None = None, plan: TrainPlan | None = None,
                   limits: UploadLimits | None = None, tokenizer=None) -> tuple[LoadedData, ValidationReport]:
    """Load and validate without writing a run (the Train tab's preview + report)."""
    plan = plan or TrainPlan()
    loaded = load_data(path, spec, limits)
    if tokenizer is None:
        tokenizer = load_tokenizer_for(plan.base_model)
    report = validate(loaded, tokenizer, plan.max_seq_length, limits)
    return loaded, report


def prepare_run(path: str | Path, plan: TrainPlan, spec: DataSpec | None = None, name: str | None = None,
                limits: UploadLimits | None = None, tokenizer=None, extra: dict[str, Any] | None = None) -> Path:
    """Validate the data and create a queued run folder. Raises TrainerError when training cannot start."""
    kept = keep_upload(path)
    loaded, report = inspect_upload(kept, spec, plan, limits, tokenizer)
    if not report.ok:
        raise TrainerError(report.summary())
    split = split_examples(report.examples, plan.split_spec())
    sampled_from = None
    if plan.train_rows and plan.train_rows < len(split.train):
        sampled_from = len(split.train)
        split.train = sorted(random.Random(plan.seed).sample(split.train, int(plan.train_rows)), key=lambda e: e.row)
    name = name or Path(path).stem
    record = {
        "name": name,
        "base_model": plan.base_model,
        "data_path": str(kept),
        "data_original_name": Path(path).name,
        "data_fingerprint": loaded.fingerprint,
        "data_spec": loaded.spec.to_dict(),
        "task": report.task,
        "labels": report.labels,
        "n_train": len(split.train),
        "train_sampled_from": sampled_from,
        "n_val": len(split.val),
        "split": split.info(),
        # the prompt every later use of this run repeats (trainer.prompts): the label set for classification
        "system_prompt": system_prompt_for(report.task, report.labels),
        **(extra or {}),
    }
    folder = registry.create_run(record)
    plan.save(folder / "plan.json")
    registry.write_jsonl(folder / "data" / "train.jsonl", [{"prompt": e.prompt, "completion": e.completion} for e in split.train])
    registry.write_jsonl(folder / "data" / "val.jsonl", [{"prompt": e.prompt, "completion": e.completion} for e in split.val])
    registry._write_json_atomic(folder / "data" / "split.json", split.info())
    registry._write_json_atomic(folder / "data" / "validation.json", report.to_dict())
    return folder
