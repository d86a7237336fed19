"""Peak-memory estimate of a (Q)LoRA run before it starts: weights + LoRA state + activations + logits + runtime.

All terms are in bytes internally and GiB in the result. The activation and logits coefficients are
bytes per token, per layer (activations) or per vocabulary entry (logits); they were checked against peak RSS
of real CPU runs of the default model (``benchmarks/memory_estimate.py``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from advisor.modelspec import ModelSpec

GIB = 2**30
DTYPE_BYTES = {"bfloat16": 2, "float16": 2, "float32": 4}
# Optimizer state bytes per trainable (fp32) parameter.
OPTIMIZER_BYTES = {"adamw": 8.0, "adafactor": 0.1, "lion": 1.0, "sgd": 0.0}
# Stored activations per token per decoder layer, in units of the activation dtype's bytes:
# ACT_H x hidden + ACT_I x intermediate (norm inputs/fp32 copies, q/k/v/o, rotary, attention output,
# gate/up/act products, LoRA dropout copies of each adapted module's input).
ACT_H, ACT_I = 22.0, 7.0
# Logits and their loss-time companions per token per vocab entry (bf16 logits, fp32 upcast,
# log-softmax, its gradient, TRL's entropy/accuracy temporaries).
LOGIT_BYTES = 16.0
# What the process holds besides the model: Python, torch, transformers, TRL, datasets, tokenizer, allocator slack.
RUNTIME_GIB = {"cpu": 1.0, "cuda": 0.6}
# Share of the device memory a run may plan to use (the OS, the app and other processes need the rest).
USABLE_SHARE = {"cpu": 0.8, "cuda": 0.92}


@dataclass
class MemoryEstimate:
    device: str
    weights_gib: float
    lora_state_gib: float
    activations_gib: float
    logits_gib: float
    runtime_gib: float
    total_gib: float
    available_gib: float
    fits: bool
    tokens_per_micro_batch: int
    assumptions: list[str] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    def line(self) -> str:
        verdict = "fits" if self.fits else "does NOT fit"
        return (f"~{self.total_gib:.2f} GiB peak ({self.weights_gib:.2f} weights + {self.lora_state_gib:.2f} LoRA/optimizer + "
                f"{self.activations_gib:.2f} activations + {self.logits_gib:.2f} logits + {self.runtime_gib:.2f} runtime) "
                f"vs {self.available_gib:.1f} GiB usable on {self.device}: {verdict}")


def weight_bytes(spec: ModelSpec, quantization: str, compute_dtype: str) -> float:
    b = DTYPE_BYTES[compute_dtype]
    if quantization == "nf4":
        # Linear layers in 4 bits (+~3% for double-quantised block constants); embeddings / lm_head stay in compute dtype.
        return (spec.params - spec.embedding_params) * 0.5 * 1.03 + spec.embedding_params * b
    return spec.params * b


def estimate(spec: ModelSpec, *, device: str, device_mem_gib: float, batch_size: int, seq_len: int,
             quantization: str = "none", compute_dtype: str = "bfloat16", optimizer: str = "adamw",
             gradient_checkpointing: bool = False, lora_r: int = 16, lora_targets: list[str] | str = "all-linear") -> MemoryEstimate:
    """Estimated peak memory of one training step at the given micro-batch and (padded) sequence length."""
    b = DTYPE_BYTES[compute_dtype]
    tokens = batch_size * seq_len
    weights = weight_bytes(spec, quantization, compute_dtype)
    lora_n = spec.lora_params(lora_r, lora_targets)
    lora_state = lora_n * (4 + 4 + OPTIMIZER_BYTES[optimizer])  # fp32 adapter weights + grads + optimizer state
    per_layer_token = b * (ACT_H * spec.hidden + ACT_I * spec.intermediate)
    if gradient_checkpointing:
        # Only each layer's input is kept; one layer's activations are rebuilt at a time in the backward pass.
        acts = tokens * (spec.layers * b * spec.hidden + per_layer_token)
    else:
        acts = tokens * spec.layers * per_layer_token
    logits = tokens * spec.vocab * LOGIT_BYTES
    runtime = RUNTIME_GIB[device] * GIB
    total = weights + lora_state + acts + logits + runtime
    available = device_mem_gib * USABLE_SHARE[device]
    assumptions = [
        f"{batch_size} x {seq_len} tokens per micro-batch (sequences padded to the longest in the batch)",
        f"weights {'NF4 4-bit' if quantization == 'nf4' else compute_dtype}; {lora_n / 1e6:.1f}M LoRA parameters in fp32 with {optimizer} state",
        f"activations {'with' if gradient_checkpointing else 'without'} gradient checkpointing",
        f"{USABLE_SHARE[device]:.0%} of {device_mem_gib:.0f} GiB {('GPU memory' if device == 'cuda' else 'RAM')} usable",
    ]
    g = lambda x: round(x / GIB, 3)  # noqa: E731
    return MemoryEstimate(device=device, weights_gib=g(weights), lora_state_gib=g(lora_state), activations_gib=g(acts),
                          logits_gib=g(logits), runtime_gib=g(runtime), total_gib=g(total), available_gib=round(available, 2),
                          fits=total / GIB <= available, tokens_per_micro_batch=tokens, assumptions=assumptions)
