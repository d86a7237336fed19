"""Export a run: the PEFT adapter folder as is, or merged into the base weights (``--merge``)."""

from __future__ import annotations

import shutil
from pathlib import Path

from trainer import registry
from trainer.errors import TrainerError


def export_run(ref: str, out_dir: str | Path, merge: bool = False, dtype: str = "bfloat16") -> Path:
    """Copy ``<run>/adapter`` to ``out_dir``; with ``merge`` write full merged safetensors weights + tokenizer."""
    run = registry.find_run(ref)
    if run.adapter_dir is None:
        raise TrainerError(f"Run {run.name} has no adapter yet (status {run.status}). Finish or resume training first.")
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()):
        raise TrainerError(f"{out} exists and is not empty. Choose a new folder for the export.")
    if not merge:
        shutil.copytree(run.adapter_dir, out, dirs_exist_ok=True)
        return out
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from fintune.models import resolve_base_model

    base = AutoModelForCausalLM.from_pretrained(resolve_base_model(run.base_model), dtype=getattr(torch, dtype),
                                                use_safetensors=True, trust_remote_code=False)
    model = PeftModel.from_pretrained(base, str(run.adapter_dir))
    merged = model.merge_and_unload()
    out.mkdir(parents=True, exist_ok=True)
    merged.save_pretrained(out, safe_serialization=True)
    AutoTokenizer.from_pretrained(str(run.adapter_dir)).save_pretrained(out)
    readme = run.run_dir / "README.md"
    if readme.is_file():
        shutil.copyfile(readme, out / "README.md")
    return out
