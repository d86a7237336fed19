"""The body of a training job: run folder in, adapter + metrics + model card out.

Called by ``python -m trainer.job RUN_DIR`` (the subprocess the JobManager starts). Phases are
written as events: preparing -> tokenizing -> training -> saving -> evaluating -> done (or stopped
or failed). Resumes from the newest checkpoint when the run record says ``resume``.
"""

from __future__ import annotations

import dataclasses
import gc
import json
import os
import time
from pathlib import Path
from typing import Any

from trainer import registry
from trainer.errors import TrainerError
from trainer.events import EventWriter
from trainer.plan import TrainPlan
from trainer.registry import RunStatus


def quantization_status(plan: TrainPlan, cuda: bool | None = None) -> tuple[str, str]:
    """(effective quantization, reason): whether the plan's 4-bit request can be honoured here."""
    import importlib.util

    if plan.quantization != "nf4":
        return "none", "4-bit is off: the plan keeps the base model unquantized (LoRA on bf16/fp32 weights); set quantization to nf4 for QLoRA."
    if importlib.util.find_spec("bitsandbytes") is None:
        return "none", "4-bit is off: bitsandbytes is not installed (pip install bitsandbytes); training plain LoRA instead."
    return "nf4", "4-bit NF4 QLoRA: the base model is quantized with bitsandbytes and prepared for k-bit training."


def _rank() -> int:
    return int(os.environ.get("RANK", "0"))


def _local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", "0"))


def _world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def load_base(plan: TrainPlan, quantization: str):
    """Tokenizer + model for training. CUDA: the local rank's GPU; CPU otherwise. NF4 -> k-bit prepared."""
    import torch
    from transformers import AutoModelForCausalLM

    from fintune.models import load_tokenizer, resolve_base_model

    source = resolve_base_model(plan.base_model)
    tokenizer = load_tokenizer(plan.base_model)
    cuda = torch.cuda.is_available()
    dtype_name = plan.compute_dtype
    if not cuda and dtype_name == "float16":
        dtype_name = "bfloat16"  # fp16 autocast is a GPU feature; bf16 is the fast CPU half type
    dtype = getattr(torch, dtype_name)
    kwargs: dict[str, Any] = dict(dtype=dtype, use_safetensors=True, trust_remote_code=False)
    if quantization == "nf4":
        bnb = dataclasses.replace(plan, compute_dtype=dtype_name).to_bnb_config()
        kwargs["quantization_config"] = bnb
        kwargs["device_map"] = {"": _local_rank()} if cuda else {"": "cpu"}
    try:
        model = AutoModelForCausalLM.from_pretrained(source, **kwargs)
    except (OSError, ValueError) as exc:
        raise TrainerError(f"Could not load base model '{plan.base_model}': {str(exc).splitlines()[0]}. "
                           "Check the name/folder (it must hold safetensors weights).") from exc
    if quantization == "nf4":
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=plan.gradient_checkpointing)
    elif cuda:
        model.to(f"cuda:{_local_rank()}")
    model.config.use_cache = False
    return tokenizer, model, dtype_name


def to_conversational(rows: list[dict[str, str]], system_prompt: str | None = None):
    """``{"prompt", "completion"}`` rows -> a TRL conversational prompt/completion dataset (completion-only loss),
    each prompt built by ``trainer.prompts.conversation`` so that inference repeats it exactly."""
    from datasets import Dataset

    from trainer.prompts import conversation

    return Dataset.from_dict({
        "prompt": [conversation(r["prompt"], system_prompt) for r in rows],
        "completion": [[{"role": "assistant", "content": r["completion"]}] for r in rows],
    })


def build_sft_config(plan: TrainPlan, output_dir: Path, has_eval: bool, dtype_name: str, **overrides: Any):
    """The plan as an SFTConfig, plus FinTune's fixed choices (checkpointing, events instead of tqdm)."""
    import torch

    cfg: dict[str, Any] = dict(
        eval_strategy="steps" if has_eval else "no",
        save_strategy="steps",
        save_total_limit=2,
        logging_strategy="steps",
        logging_first_step=True,
        report_to="none",
        disable_tqdm=True,
        dataloader_num_workers=0,
        completion_only_loss=True,
        bf16=dtype_name == "bfloat16",
        fp16=dtype_name == "float16" and torch.cuda.is_available(),
        gradient_checkpointing_kwargs={"use_reentrant": False} if plan.gradient_checkpointing else None,
        use_cpu=not torch.cuda.is_available(),
    )
    cfg.update(overrides)
    return plan.to_sft_config(output_dir, **cfg)


def _model_card(record: dict, plan: TrainPlan, metrics: dict) -> str:
    lines = [
        f"# {record.get('name')} — FinTune LoRA adapter", "",
        f"- Run id: `{record.get('id')}`",
        f"- Base model: `{record.get('base_model')}`",
        f"- Task: {record.get('task')}" + (f" (labels: {', '.join(record['labels'])})" if record.get("labels") else ""),
        f"- Data: `{record.get('data_original_name')}` (sha256+mapping {str(record.get('data_fingerprint'))[:16]}…), "
        f"{record.get('n_train')} train / {record.get('n_val')} validation rows (deterministic split, seed {plan.seed})",
        f"- Method: {'QLoRA (4-bit NF4)' if record.get('quantization_effective') == 'nf4' else 'LoRA'} r={plan.lora_r}, alpha={plan.lora_alpha}, "
        f"dropout={plan.lora_dropout}, targets={plan.lora_target_modules}; completion-only loss on the chat-templated answer",
        f"- Optimiser: {plan.optimizer}, lr {plan.learning_rate}, {plan.lr_scheduler} schedule, warmup {plan.warmup_ratio}, "
        f"{plan.num_epochs} epoch(s), batch {plan.per_device_batch_size} x {plan.gradient_accumulation_steps}, max length {plan.max_seq_length}",
        "", "## Results", "",
    ]
    for key in ("train_loss", "final_eval_loss", "global_step", "train_runtime", "train_tokens_per_s"):
        if key in metrics:
            lines.append(f"- {key}: {metrics[key]}")
    system = record.get("system_prompt")
    prompt_line = (f"Prompt it as in training: the system message `{system}`, then the text as the user message."
                   if system else "Prompt it as in training: the text as the user message, no system message (the chat "
                   "template adds its default one).")
    lines += ["", "## Use", "", prompt_line, "", "```python",
              "from peft import AutoPeftModelForCausalLM", "from transformers import AutoTokenizer",
              "model = AutoPeftModelForCausalLM.from_pretrained('adapter')",
              "tokenizer = AutoTokenizer.from_pretrained('adapter')", "```", "",
              "Limitations: a small model fine-tuned on a small dataset; check `eval.json` before relying on it. Not financial advice.", ""]
    return "\n".join(lines)


def run_training(run_dir: str | Path, speedups: bool = True) -> str:
    """Train the run in ``run_dir``; returns the final status. Raises on failure (the job records it)."""
    import torch

    folder = Path(run_dir)
    main = _rank() == 0
    writer = EventWriter(folder, enabled=main)
    record = registry.read_record(folder)
    plan = TrainPlan.load(folder / "plan.json")
    resume = bool(record.get("resume"))
    if not torch.cuda.is_available():
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        torch.set_num_threads(max(1, cores))

    writer.phase("preparing", message="loading the base model")
    quantization, reason = quantization_status(plan)
    if main:
        registry.update_record(folder, quantization_effective=quantization, quantization_reason=reason,
                               device="cuda" if torch.cuda.is_available() else "cpu")
    tokenizer, model, dtype_name = load_base(plan, quantization)
    if (folder / registry.STOP_FILE).exists():
        writer.phase("stopped", message="stopped before training started")
        return RunStatus.STOPPED

    writer.phase("tokenizing", message="applying the chat template and masking the prompt tokens")
    train_rows = registry.read_jsonl(folder / "data" / "train.jsonl")
    val_rows = registry.read_jsonl(folder / "data" / "val.jsonl")
    system_prompt = record.get("system_prompt")
    train_ds = to_conversational(train_rows, system_prompt)
    # Validation loss on a bounded subset: it runs several times during training, so its cost is capped.
    eval_rows = val_rows[: plan.eval_loss_rows]
    eval_ds = to_conversational(eval_rows, system_prompt) if eval_rows else None
    args = build_sft_config(plan, folder / "checkpoints", eval_ds is not None, dtype_name)

    from trainer.callbacks import EventCallback
    from trainer.fast import FinTuneSFTTrainer
    from trainer.testing import injected_callbacks

    callback = EventCallback(folder, writer)
    trainer = FinTuneSFTTrainer(
        model=model, args=args, train_dataset=train_ds, eval_dataset=eval_ds, processing_class=tokenizer,
        peft_config=plan.to_lora_config(), callbacks=[*injected_callbacks(), callback],  # a test's delay runs before the STOP check
        speedups=speedups and plan.label_smoothing == 0,
    )
    checkpoint = registry.last_checkpoint(folder) if resume else None
    if resume and checkpoint is None:
        writer.phase("training", message="no checkpoint found: starting from step 0")
    started = time.time()
    result = trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    runtime = time.time() - started
    stopped = callback.stop_requested

    metrics: dict[str, Any] = {**result.metrics, "global_step": trainer.state.global_step, "stopped": stopped,
                               "padding_free": trainer.padding_free, "speedups": trainer.active_speedups(),
                               "log_history": trainer.state.log_history}
    if torch.cuda.is_available():
        metrics["peak_gpu_mem_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 3)
    num_tokens = next((h["num_tokens"] for h in reversed(trainer.state.log_history) if "num_tokens" in h), None)
    if num_tokens:
        metrics["train_tokens"] = num_tokens
        metrics["train_tokens_per_s"] = round(num_tokens / max(runtime, 1e-6), 1)

    writer.phase("saving", message="writing the LoRA adapter (safetensors)")
    adapter = folder / "adapter"
    trainer.save_model(str(adapter))  # every rank calls it (DeepSpeed/FSDP gather); only rank 0 writes
    if main:
        tokenizer.save_pretrained(str(adapter))
        (adapter / "training_args.bin").unlink(missing_ok=True)  # a pickle: keep the adapter folder safe to share

    if not stopped and eval_ds is not None:
        writer.phase("evaluating", message="validation loss")
        try:
            ev = trainer.evaluate()
            metrics["final_eval_loss"] = ev.get("eval_loss")
        except Exception as exc:  # noqa: BLE001 - evaluation must not lose a finished adapter
            writer.error(f"Validation loss failed: {exc}")
    if not main:
        return RunStatus.STOPPED if stopped else RunStatus.COMPLETED
    (folder / "metrics.json").write_text(json.dumps(metrics, indent=2, default=str), encoding="utf-8")
    (folder / "README.md").write_text(_model_card(registry.read_record(folder), plan, metrics), encoding="utf-8")
    registry.update_record(folder, adapter_partial=stopped, global_step=trainer.state.global_step,
                           train_loss=metrics.get("train_loss"), final_eval_loss=metrics.get("final_eval_loss"))

    del trainer, model
    gc.collect()
    if stopped:
        writer.phase("stopped", message=f"stopped at step {metrics['global_step']}; checkpoint saved — resume to continue")
        return RunStatus.STOPPED

    if record.get("evaluate") is False:
        writer.phase("done", message="adapter ready in the Chat tab (task evaluation skipped for this run)")
        return RunStatus.COMPLETED
    writer.phase("evaluating", message="task evaluation on the held-out rows")
    from trainer.evaluate import evaluate_run

    try:
        evaluate_run(folder)
    except Exception as exc:  # noqa: BLE001 - a failed evaluation still leaves a completed run
        writer.error(f"Task evaluation failed: {type(exc).__name__}: {exc}")
    writer.phase("done", message="adapter ready in the Chat tab")
    return RunStatus.COMPLETED
