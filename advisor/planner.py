"""Rules of practice that turn (data size, task, token lengths, machine, base model) into a TrainPlan.

Every value set here comes with a one-line reason in ``plan.reasons``. The plan is then sized against the
machine (``advisor.memory``); when it does not fit, it changes itself — gradient checkpointing, a smaller
micro-batch with more accumulation, 4-bit NF4, Adafactor — and records each change.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from advisor.errors import AdvisorError
from advisor.lengths import TokenStats
from advisor.memory import MemoryEstimate, estimate, weight_bytes
from advisor.modelspec import ModelSpec
from fintune.hardware import Machine
from trainer.plan import TrainPlan

ASSUMED_ROWS = 1000  # planning size when no data is attached
DEFAULT_TIME_BUDGET_MIN = 30.0
# Classification recipe, chosen by the sweep in docs/training.md (tweets, label-likelihood answers):
CLS_LEARNING_RATE = 2e-3
CLS_MIN_VAL_ROWS = 400  # enough held-out rows to read accuracy to about +-2 points
VALIDATION_PASSES = 4  # validation-loss passes per run, on a bounded subset (TrainPlan.eval_loss_rows)


@dataclass
class PlanInputs:
    """What the planner needs to know."""

    machine: Machine = field(metadata={"help": "Machine to size the run for (fintune.hardware.detect() or hand-built)."})
    spec: ModelSpec = field(metadata={"help": "Shape of the base model (advisor.modelspec.spec_for)."})
    base_model: str = field(default="smollm2-135m-instruct", metadata={"help": "Base model name written into the plan."})
    n_rows: int | None = field(default=None, metadata={"help": "Training rows in the user's data; None = unknown (planned for 1,000)."})
    task: str = field(default="freeform", metadata={"help": "'classification' (short label completions) or 'freeform'."})
    labels: list[str] | None = field(default=None, metadata={"help": "The label set, for classification."})
    tokens: TokenStats | None = field(default=None, metadata={"help": "Token-length statistics of the data (advisor.lengths)."})
    time_budget_min: float | None = field(default=DEFAULT_TIME_BUDGET_MIN, metadata={"help": "Longest training wall time you accept, in minutes; the plan trains fewer epochs or a sample of the rows to fit (None = no limit)."})

    def __post_init__(self) -> None:
        if self.task not in ("classification", "freeform"):
            raise AdvisorError(f"PlanInputs.task={self.task!r}: use 'classification' or 'freeform'.")
        if self.time_budget_min is not None and self.time_budget_min <= 0:
            raise AdvisorError(f"PlanInputs.time_budget_min={self.time_budget_min}: give a positive number of minutes, e.g. 20, or None for no limit.")
        if self.n_rows is not None and self.n_rows < 1:
            raise AdvisorError(f"PlanInputs.n_rows={self.n_rows}: the data has no rows; attach a file with examples.")


def _round_up(x: float, step: int) -> int:
    return int(math.ceil(x / step) * step)


def _fmt_rows(n: int) -> str:
    return f"{n:,} rows"


def make_plan(inp: PlanInputs) -> TrainPlan:
    m, spec = inp.machine, inp.spec
    known = inp.n_rows is not None
    n = inp.n_rows if known else ASSUMED_ROWS
    size = _fmt_rows(n) if known else f"no data attached, planned for {ASSUMED_ROWS:,} rows"
    cls = inp.task == "classification"
    device = "cuda" if m.has_cuda else "cpu"
    r: dict[str, str] = {}

    r["base_model"] = f"{inp.base_model}: {spec.params / 1e6:.0f}M parameters"

    # ---- data split and length ------------------------------------------------------------------
    if cls and n >= 2500:
        val_fraction = max(0.02, CLS_MIN_VAL_ROWS / n)
    else:
        val_fraction = 0.2 if n < 500 else min(0.1, max(0.01, 2000 / n))
    r["val_fraction"] = (f"{val_fraction:.1%} held out ({max(1, round(n * val_fraction)):,} rows): "
                         + ("small data needs a larger share to measure anything" if n < 500 else
                            f"{CLS_MIN_VAL_ROWS} rows read accuracy to about ±2 points; the rest is worth more as training data"
                            if cls and n >= 2500 else
                            "enough rows to evaluate without starving training" if val_fraction < 0.1 else "the usual 10%"))
    n_train = max(1, int(n * (1 - val_fraction)))

    if inp.tokens:
        t = inp.tokens
        cap = min(2048, spec.max_positions)
        max_len = min(cap, max(64, _round_up(t.total_p99 * 1.05, 32)))
        truncated = "none" if t.total_max <= max_len else "the longest 1% or fewer"
        label_note = f"; completions are short labels ({t.completion_max} tokens at most)" if cls else ""
        r["max_seq_length"] = (f"{max_len} tokens covers the 99th percentile ({t.total_p99}) of prompt+completion+template "
                               f"length (median {t.total_p50}, longest {t.total_max}; {truncated} truncated){label_note}; "
                               f"measured with {t.method}")
    else:
        max_len = 128 if cls else 512
        r["max_seq_length"] = f"{max_len}: no data to measure, the default for {'short classification inputs' if cls else 'free-text answers'}"

    # ---- schedule ---------------------------------------------------------------------------------
    if cls:
        epochs = 5.0 if n < 300 else 3.0 if n < 1000 else 2.0 if n < 2500 else 1.0
    else:
        epochs = 5.0 if n < 300 else 3.0 if n < 2000 else 2.0 if n < 20000 else 1.0
    r["num_epochs"] = {5.0: f"{size}: few examples, several passes are needed to learn the mapping (watch the validation loss)",
                       3.0: f"{size}: three passes is the usual sweet spot before overfitting",
                       2.0: f"{size}: two passes suffice with this many examples",
                       1.0: f"{size}: one pass over this much data is enough; more epochs mostly overfit"}[epochs]
    eff = 8 if n < 500 or cls else 16 if n < 10000 else 32
    batch_cap = 8 if device == "cpu" else (16 if m.gpu_mem_gib < 24 else 32)
    per_device = min(eff, batch_cap)
    accum = max(1, eff // per_device)

    if cls:
        lr = CLS_LEARNING_RATE
        r["learning_rate"] = (f"{lr:.0e}: measured on labelled tweets (docs/training.md), LoRA on a 135M model at 2e-4 "
                              "only learns the majority label; 2e-3 learns the classes within one epoch")
    else:
        lr = 1e-4 if n < 500 or n > 20000 else 2e-4
        r["learning_rate"] = (f"{lr:.0e} for LoRA with AdamW: "
                              + ("small data repeated over several epochs, a lower peak limits memorising it" if n < 500 else
                                 "many steps over a large dataset, a lower peak keeps late updates stable" if n > 20000 else
                                 "LoRA tolerates 1e-4..3e-4; 2e-4 converges in few epochs"))
    r["weight_decay"] = "0.01: standard decoupled AdamW decay, mild regularisation of the adapter weights"

    # ---- regularisation -------------------------------------------------------------------------
    smoothing = 0.0
    if cls:
        r["label_smoothing"] = ("0: measured on labelled tweets (docs/training.md), smoothing did not raise accuracy, it needs "
                                "full-vocabulary logits (turning off the compact LM head speed-up), and TRL deprecates it")
    else:
        r["label_smoothing"] = "0: free-text answers; smoothing would blur every next-token distribution"
    if cls:
        neftune = None
        r["neftune_noise_alpha"] = ("off: measured on labelled tweets (docs/training.md), embedding noise did not help a "
                                    "label mapping, and it turns off padding-free batches (the larger speed-up)")
    elif n < 50000:
        neftune = 5.0
        r["neftune_noise_alpha"] = f"5: {size} (< 50k), noise on the embeddings during training reduces overfitting (NEFTune)"
    else:
        neftune = None
        r["neftune_noise_alpha"] = f"off: {size} (≥ 50k) regularise themselves; noise would only slow convergence"

    if cls:
        lora_r = 8
        r["lora_r"] = "8: mapping text to a few labels is a low-rank change"
    else:
        lora_r = 8 if n < 1000 else 16 if n < 20000 else 32
        r["lora_r"] = f"{lora_r}: " + {8: "small data, a small adapter overfits less", 16: "medium data, the common default",
                                       32: "a large dataset can use a larger adapter"}[lora_r]
    r["lora_alpha"] = f"{2 * lora_r}: alpha = 2 x rank keeps the update scale constant across ranks"
    lora_dropout = 0.1 if n < 1000 else 0.05
    r["lora_dropout"] = f"{lora_dropout}: " + ("small data, more dropout on the adapter path" if n < 1000 else "the usual light dropout")
    r["lora_target_modules"] = "all-linear: adapting attention and MLP projections learns more than q/v only at the same rank"

    # ---- memory: dtype, quantization, then fit ---------------------------------------------------
    dtype = "bfloat16"
    r["compute_dtype"] = ("bfloat16: on this CPU bf16 trains ~1.5x faster than fp32 and halves the weights" if device == "cpu"
                          else "bfloat16: native on modern GPUs, fp32-like range without loss scaling")
    quant = "none"
    bf16_weights = weight_bytes(spec, "none", dtype) / 2**30
    if device == "cuda" and m.bitsandbytes and bf16_weights > 0.25 * m.gpu_mem_gib:
        quant = "nf4"
        r["quantization"] = (f"nf4 (QLoRA): the bf16 weights ({bf16_weights:.1f} GiB) would take over a quarter of the "
                             f"{m.gpu_mem_gib:.0f} GiB GPU; 4-bit NF4 frees it for batch and activations")
    elif device == "cuda":
        r["quantization"] = (f"none: the bf16 weights ({bf16_weights:.2f} GiB) are small next to {m.gpu_mem_gib:.0f} GiB"
                             + ("" if m.bitsandbytes else "; bitsandbytes is not installed anyway"))
    else:
        r["quantization"] = (f"none: on CPU 4-bit is slower; the bf16 weights ({bf16_weights:.2f} GiB) fit in "
                             f"{m.ram_gib:.0f} GiB RAM")

    optimizer = "adamw"
    r["optimizer"] = "adamw: the default; its state for the small LoRA adapter is cheap (betas/epsilon at defaults)"
    ckpt = False
    r["gradient_checkpointing"] = "off: activations fit, and recomputing them would cost ~30% speed (TRL's default is on; set explicitly)"

    def est(bs: int, ck: bool, q: str, opt: str) -> MemoryEstimate:
        return estimate(spec, device=device, device_mem_gib=m.accelerator_mem_gib, batch_size=bs, seq_len=max_len,
                        quantization=q, compute_dtype=dtype, optimizer=opt, gradient_checkpointing=ck, lora_r=lora_r)

    mem = est(per_device, ckpt, quant, optimizer)
    changes: list[str] = []
    while not mem.fits:
        before = mem.total_gib
        if mem.weights_gib > 0.5 * mem.available_gib and quant == "none" and m.bitsandbytes:
            quant = "nf4"
            r["quantization"] = f"nf4: the {dtype} weights alone ({mem.weights_gib:.2f} GiB) take over half the usable memory"
            if device == "cpu":
                r["quantization"] += " (4-bit is slower on CPU, but the bf16 base does not fit)"
            step = "loaded the base in 4-bit NF4"
        elif not ckpt:
            ckpt = True
            r["gradient_checkpointing"] = "on: without it the activations would not fit; costs ~30% speed"
            step = "turned gradient checkpointing on"
        elif per_device > 1:
            per_device //= 2
            step = f"halved the micro-batch to {per_device} (accumulation keeps the effective batch {eff})"
        elif quant == "none" and m.bitsandbytes:
            quant = "nf4"
            r["quantization"] = "nf4: even at micro-batch 1 with checkpointing the bf16 base does not fit"
            step = "loaded the base in 4-bit NF4"
        elif optimizer == "adamw":
            optimizer = "adafactor"
            r["optimizer"] = "adafactor: memory is tight; factored second moments need almost no optimizer state"
            step = "switched AdamW to Adafactor"
        else:
            changes.append(f"still ~{mem.total_gib:.1f} GiB > {mem.available_gib:.1f} GiB usable: pick a smaller base model "
                           f"or a shorter max_seq_length")
            break
        mem = est(per_device, ckpt, quant, optimizer)
        changes.append(f"{step}: {before:.2f} → {mem.total_gib:.2f} GiB")
    accum = max(1, eff // per_device)

    r["per_device_batch_size"] = (f"{per_device}: " + ("the largest micro-batch that fits" if changes else
                                  "on CPU a larger micro-batch only adds padding, no parallel speed-up" if device == "cpu"
                                  else f"fits easily in {m.gpu_mem_gib:.0f} GiB"))
    r["gradient_accumulation_steps"] = (f"{accum}: reaches an effective batch of {eff} " +
                                        ("(small data: smaller batches give noisier gradients that generalise better)" if eff == 8 else
                                         "(larger batches give stabler gradients for larger data)")
                                        + ("" if accum == 1 else f" from micro-batches of {per_device}"))

    # ---- time: estimate on this machine, then fit the budget (fewer epochs first, then a sample) ---------
    from trainer.calibration import estimate_seconds, training_speed

    speed = training_speed(inp.base_model, device)
    per_row = float(inp.tokens.total_p50) if inp.tokens else (60.0 if cls else 200.0)
    eval_rows = 64

    def seconds(rows: int, ep: float) -> dict[str, float]:
        return estimate_seconds(rows, ep, per_row, VALIDATION_PASSES, eval_rows, speed)

    train_rows = None
    first = seconds(n_train, epochs)
    budget_s = inp.time_budget_min * 60 if inp.time_budget_min else None
    fit_note = ""
    full_epochs = epochs
    if budget_s and first["total_s"] > budget_s:
        while epochs > 1 and seconds(n_train, epochs)["total_s"] > budget_s:
            epochs -= 1.0
        if seconds(n_train, epochs)["total_s"] > budget_s:
            fixed = first["startup_s"] + seconds(0, epochs)["validation_s"]
            train_rows = max(200, int((budget_s - fixed) * speed.tokens_per_s / (per_row * epochs)))
            train_rows = min(train_rows, n_train)
        fit_note = (f"the full plan ({full_epochs:g} epoch(s) over {n_train:,} rows) would take ~{first['total_s'] / 60:.0f} min, "
                    f"over the {inp.time_budget_min:g}-min budget: "
                    + (f"trains {epochs:g} epoch(s)" if epochs < full_epochs else "")
                    + (" and " if epochs < full_epochs and train_rows else "")
                    + (f"samples {train_rows:,} of the {n_train:,} training rows" if train_rows else ""))
    used_rows = train_rows or n_train
    est = seconds(used_rows, epochs)
    if fit_note and epochs < full_epochs:
        r["num_epochs"] = f"{epochs:g}: {fit_note}"
    r["train_rows"] = (f"{train_rows:,}: {fit_note}" if train_rows else
                       f"all {n_train:,} training rows" + (" fit the time budget" if budget_s else ""))
    time_estimate = {**est, "minutes": round(est["total_s"] / 60, 1), "tokens_per_row": per_row,
                     "tokens_per_s": speed.tokens_per_s, "calibration": speed.source,
                     "budget_min": inp.time_budget_min, "fitted": bool(fit_note)}
    r["time_estimate"] = (f"~{est['total_s'] / 60:.0f} min on this machine ({used_rows:,} rows x {epochs:g} epoch(s) x "
                          f"~{per_row:.0f} tokens at {speed.source}; validation ~{est['validation_s'] / 60:.1f} min)"
                          + (f"; {fit_note}" if fit_note else ""))
    n_train = used_rows

    steps_per_epoch = math.ceil(n_train / eff)
    total_steps = max(1, int(steps_per_epoch * epochs))
    if total_steps < 30:
        sched, warm = "constant_with_warmup", 0.1
        r["lr_scheduler"] = f"constant_with_warmup: only ~{total_steps} optimizer steps, too few for a decay to matter"
    elif epochs >= 2:
        sched, warm = "cosine", 0.1 if total_steps < 200 else 0.03
        r["lr_scheduler"] = (f"cosine over ~{total_steps} steps: decays smoothly toward zero near the end so the last "
                             "epochs do not overshoot near convergence")
    else:
        sched, warm = "linear", 0.03
        r["lr_scheduler"] = (f"linear over ~{total_steps} steps: a single pass over large data, decaying linearly to zero "
                             "avoids overshooting at the end")
    r["warmup_ratio"] = f"{warm}: " + ("a short run needs a relatively longer warm-up" if warm == 0.1 else "a brief warm-up suffices for a long run")

    eval_steps = max(10, math.ceil(total_steps / VALIDATION_PASSES))
    logging = min(50, max(1, total_steps // 50))
    r["eval_steps"] = (f"{eval_steps}: validation loss {VALIDATION_PASSES} times over ~{total_steps} optimizer steps, on "
                       f"{eval_rows} held-out rows each, so validation stays a small share of the run")
    r["eval_loss_rows"] = f"{eval_rows}: a bounded validation subset; the full held-out split is scored once after training"
    r["save_steps"] = f"{eval_steps}: a checkpoint at every evaluation, so the run can resume"
    r["logging_steps"] = f"{logging}: about 50 loss points over the run"
    r["max_steps"] = "-1: run the planned epochs"
    r["seed"] = "42: reproducible split, init and shuffling"

    mem_dict = mem.to_dict()
    mem_dict["changes"] = changes
    mem_dict["summary"] = mem.line()
    plan = TrainPlan(
        base_model=inp.base_model, optimizer=optimizer, learning_rate=lr, weight_decay=0.01, lr_scheduler=sched,
        warmup_ratio=warm, num_epochs=epochs, per_device_batch_size=per_device, gradient_accumulation_steps=accum,
        gradient_checkpointing=ckpt, quantization=quant, compute_dtype=dtype, label_smoothing=smoothing,
        neftune_noise_alpha=neftune, lora_r=lora_r, lora_alpha=2 * lora_r, lora_dropout=lora_dropout,
        lora_target_modules="all-linear", max_seq_length=max_len, val_fraction=round(val_fraction, 4), max_steps=-1,
        logging_steps=logging, eval_steps=eval_steps, eval_loss_rows=eval_rows, save_steps=eval_steps, seed=42,
        train_rows=train_rows, reasons=r, memory_estimate=mem_dict, time_estimate=time_estimate,
    )
    if changes:
        r["memory_estimate"] = "the first plan did not fit, so it changed: " + "; ".join(changes)
    else:
        r["memory_estimate"] = mem.line()
    return plan
