"""Export a run: the PEFT adapter as is, merged full weights (``--merge``), a merged GGUF + Ollama Modelfile
(``--gguf``), or the adapter plus the command and config that serve it with vLLM (``--vllm``)."""

from __future__ import annotations

import json
import shlex
import shutil
from pathlib import Path

from trainer import registry
from trainer.errors import TrainerError

VLLM_LORA_RANKS = (8, 16, 32, 64, 128, 256, 320, 512)  # --max-lora-rank values vLLM accepts


def _ready_run(ref: str):
    run = registry.find_run(ref)
    if run.adapter_dir is None:
        raise TrainerError(f"Run {run.name} has no adapter yet (status {run.status}). Finish or resume training first.")
    return run


def _empty_out(out_dir: str | Path) -> Path:
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()):
        raise TrainerError(f"{out} exists and is not empty. Choose a new folder for the export.")
    out.mkdir(parents=True, exist_ok=True)
    return out


def merged_model(run, dtype: str = "float32"):
    """(base + the run's adapter merged into plain weights, the run's tokenizer)."""
    from fintune.gguf_export import merged_from_adapter

    return merged_from_adapter(run.base_model, run.adapter_dir, dtype)


def _copy_card(run, out: Path) -> None:
    readme = run.run_dir / "README.md"
    if readme.is_file():
        shutil.copyfile(readme, out / "README.md")


def export_run(ref: str, out_dir: str | Path, merge: bool = False, dtype: str = "bfloat16") -> Path:
    """Copy ``<run>/adapter`` to ``out_dir``; with ``merge`` write full merged safetensors weights + tokenizer."""
    run = _ready_run(ref)
    out = _empty_out(out_dir)
    if not merge:
        shutil.copytree(run.adapter_dir, out, dirs_exist_ok=True)
        return out
    model, tokenizer = merged_model(run, dtype)
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    _copy_card(run, out)
    return out


def gguf_file_name(run) -> str:
    return f"{run.name}.gguf"


def export_gguf(ref: str, out_dir: str | Path, tensor_type: str = "f16") -> Path:
    """Write ``<name>.gguf`` (merged weights, tokenizer, chat template) and an Ollama ``Modelfile``; returns the GGUF."""
    from fintune.gguf_export import ollama_modelfile, write_gguf

    run = _ready_run(ref)
    out = _empty_out(out_dir)
    model, tokenizer = merged_model(run)
    gguf = write_gguf(model, tokenizer, out / gguf_file_name(run), name=run.name, base_alias=run.base_model, tensor_type=tensor_type)
    (out / "Modelfile").write_text(ollama_modelfile(gguf.name, tokenizer), encoding="utf-8")
    _copy_card(run, out)
    return gguf


def vllm_command(base: str, name: str, adapter: str | Path, max_lora_rank: int, port: int = 8000) -> list[str]:
    """``vllm serve BASE --enable-lora --lora-modules NAME=ADAPTER ...`` as an argv list."""
    return ["vllm", "serve", str(base), "--enable-lora", "--lora-modules", f"{name}={adapter}",
            "--max-lora-rank", str(max_lora_rank), "--port", str(port)]


def export_vllm(ref: str, out_dir: str | Path, base: str | None = None, port: int = 8000) -> Path:
    """Copy the adapter and write ``serve_vllm.sh``, ``vllm_config.yaml`` and a request example; returns the script.

    ``base`` defaults to the run's base-model folder on this machine; on the serving machine pass the same
    weights (a copy of that folder, or the Hugging Face id it came from).
    """
    from fintune.models import resolve_base_model

    run = _ready_run(ref)
    out = _empty_out(out_dir)
    adapter = out / "adapter"
    shutil.copytree(run.adapter_dir, adapter)
    rank = int(json.loads((adapter / "adapter_config.json").read_text())["r"])
    max_rank = next((r for r in VLLM_LORA_RANKS if r >= rank), None)
    if max_rank is None:
        raise TrainerError(f"LoRA rank {rank} is above vLLM's largest --max-lora-rank ({VLLM_LORA_RANKS[-1]}). Train with a smaller lora_r.")
    base = base or resolve_base_model(run.base_model)
    argv = vllm_command(base, run.name, adapter.resolve(), max_rank, port)
    script = out / "serve_vllm.sh"
    script.write_text("#!/usr/bin/env bash\n# Serves the base model plus this run's LoRA adapter (OpenAI-compatible API).\n"
                      f"exec {shlex.join(argv)} \"$@\"\n", encoding="utf-8")
    script.chmod(0o755)
    config = [f"model: {json.dumps(str(base))}", "enable-lora: true", "lora-modules:", f"  - {json.dumps(f'{run.name}={adapter.resolve()}')}",
              f"max-lora-rank: {max_rank}", f"port: {port}"]
    (out / "vllm_config.yaml").write_text("\n".join(config) + "\n", encoding="utf-8")
    request = {"model": run.name, "messages": [{"role": "user", "content": "What is EBITDA?"}], "temperature": 0, "max_tokens": 128}
    (out / "request_example.sh").write_text(
        f"curl -s http://127.0.0.1:{port}/v1/chat/completions -H 'Content-Type: application/json' -d {shlex.quote(json.dumps(request))}\n",
        encoding="utf-8")
    _copy_card(run, out)
    return script
