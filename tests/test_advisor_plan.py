"""Planner and memory estimate: dataset sizes x machines give different, explained plans."""

from __future__ import annotations

import itertools

import pytest

from advisor.lengths import TokenStats
from advisor.memory import estimate
from advisor.modelspec import KNOWN
from advisor.planner import PlanInputs, make_plan
from fintune.hardware import Machine
from trainer.plan import TrainPlan

SPEC = KNOWN["smollm2-135m-instruct"]
MACHINES = {
    "cpu-24g": Machine(ram_gib=24, cpu_cores=2),
    "gpu-8g": Machine(ram_gib=32, cpu_cores=8, gpu_name="RTX 4060", gpu_mem_gib=8, bitsandbytes=True),
    "gpu-80g": Machine(ram_gib=256, cpu_cores=32, gpu_name="H100", gpu_mem_gib=80, bitsandbytes=True),
}
SIZES = (100, 5_000, 100_000)
# Long free-text answers (FiQA-like): the token lengths that make memory matter.
LONG = TokenStats(method="test", sample=1000, prompt_p50=40, prompt_p95=120, completion_p50=300, completion_p95=900,
                  completion_max=1800, total_p50=370, total_p95=1050, total_p99=1400, total_max=1900)
SHORT = TokenStats(method="test", sample=1000, prompt_p50=25, prompt_p95=40, completion_p50=1, completion_p95=1,
                   completion_max=2, total_p50=58, total_p95=80, total_p99=90, total_max=130)
VALUE_FIELDS = [f for f in TrainPlan.help() if f not in ("reasons", "memory_estimate", "time_estimate")]


@pytest.fixture(scope="module", autouse=True)
def empty_home(tmp_path_factory):
    """No finished runs: time estimates use the built-in speed calibration, not whatever the user trained."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FINTUNE_HOME", str(tmp_path_factory.mktemp("home")))
        yield


def plan_for(n, machine, tokens=LONG, task="freeform", spec=SPEC, time_budget_min=None):
    return make_plan(PlanInputs(machine=machine, spec=spec, n_rows=n, task=task, tokens=tokens, time_budget_min=time_budget_min))


def values(plan):
    return tuple(str(getattr(plan, f)) for f in VALUE_FIELDS)


@pytest.fixture(scope="module")
def grid():
    return {(n, name): plan_for(n, m) for n, (name, m) in itertools.product(SIZES, MACHINES.items())}


def test_every_plan_is_valid_and_explained(grid):
    for plan in grid.values():
        TrainPlan.from_dict(plan.to_dict())  # round-trips through the trainer's validation
        for name in ("optimizer", "learning_rate", "weight_decay", "lr_scheduler", "warmup_ratio", "num_epochs",
                     "per_device_batch_size", "gradient_accumulation_steps", "gradient_checkpointing", "quantization",
                     "compute_dtype", "label_smoothing", "neftune_noise_alpha", "lora_r", "lora_alpha", "lora_dropout",
                     "lora_target_modules", "max_seq_length", "val_fraction", "memory_estimate"):
            assert plan.reasons.get(name), f"no reason for {name}"
        assert plan.memory_estimate["total_gib"] > 0
        assert plan.memory_estimate["fits"], plan.memory_estimate


@pytest.mark.parametrize("machine", MACHINES)
def test_sizes_give_different_plans(grid, machine):
    plans = [grid[(n, machine)] for n in SIZES]
    assert len({values(p) for p in plans}) == 3
    small, mid, big = plans
    assert small.num_epochs > mid.num_epochs > big.num_epochs
    assert small.effective_batch_size < mid.effective_batch_size < big.effective_batch_size
    assert small.neftune_noise_alpha and mid.neftune_noise_alpha and big.neftune_noise_alpha is None
    assert big.lr_scheduler == "linear" and mid.lr_scheduler == "cosine"
    assert small.lora_r < big.lora_r


@pytest.mark.parametrize("n", SIZES)
def test_machines_give_different_plans(grid, n):
    plans = {name: grid[(n, name)] for name in MACHINES}
    assert len({values(p) for p in plans.values()}) == 3
    # The small GPU had to change the plan to fit; the big one did not need to.
    assert plans["gpu-8g"].memory_estimate["changes"]
    assert plans["gpu-8g"].gradient_checkpointing
    assert plans["gpu-80g"].per_device_batch_size > plans["gpu-8g"].per_device_batch_size
    assert plans["cpu-24g"].quantization == "none" and "CPU" in plans["cpu-24g"].reasons["quantization"]


def test_classification_plan_for_sent_train_shape():
    plan = plan_for(9543, MACHINES["cpu-24g"], tokens=SHORT, task="classification")
    # the measured recipe (docs/training.md): a high LoRA learning rate, no smoothing, no NEFTune, so both
    # trainer speed-ups stay on, and validation on a bounded subset a few times per run
    assert plan.learning_rate == pytest.approx(2e-3) and "measured" in plan.reasons["learning_rate"]
    assert plan.label_smoothing == 0 and "measured" in plan.reasons["label_smoothing"]
    assert plan.neftune_noise_alpha is None and "padding-free" in plan.reasons["neftune_noise_alpha"]
    total_steps = plan.num_epochs * 9543 * (1 - plan.val_fraction) / plan.effective_batch_size
    assert total_steps / plan.eval_steps <= 5 and plan.eval_loss_rows <= 64
    assert round(9543 * plan.val_fraction) == 400
    assert "short label" in plan.reasons["max_seq_length"]
    assert plan.max_seq_length <= 128
    assert plan.gradient_checkpointing is False and "TRL" in plan.reasons["gradient_checkpointing"]
    assert plan.optimizer == "adamw" and plan.weight_decay == pytest.approx(0.01)


def test_large_model_on_small_gpu_goes_4bit():
    plan = plan_for(5000, MACHINES["gpu-8g"], spec=KNOWN["HuggingFaceTB/SmolLM2-1.7B-Instruct"])
    assert plan.quantization == "nf4"
    assert "NF4" in plan.reasons["quantization"] or "nf4" in plan.reasons["quantization"]
    assert plan.memory_estimate["fits"]


def test_plan_changes_itself_when_memory_is_tight():
    tiny = Machine(ram_gib=6, cpu_cores=2, bitsandbytes=True)
    plan = plan_for(5000, tiny)
    changes = plan.memory_estimate["changes"]
    assert changes and any("checkpointing" in c for c in changes)
    assert plan.gradient_checkpointing
    assert plan.effective_batch_size == 16  # accumulation preserved the effective batch
    assert "did not fit" in plan.reasons["memory_estimate"]


def test_no_cpu_4bit_unless_the_base_does_not_fit():
    plan = plan_for(5000, MACHINES["cpu-24g"], spec=KNOWN["HuggingFaceTB/SmolLM2-1.7B-Instruct"], tokens=SHORT)
    assert plan.quantization == "none"


@pytest.mark.parametrize("checkpointing", [False, True])
def test_memory_terms(checkpointing):
    e = estimate(SPEC, device="cpu", device_mem_gib=24, batch_size=8, seq_len=128, gradient_checkpointing=checkpointing)
    assert e.weights_gib == pytest.approx(SPEC.params * 2 / 2**30, abs=1e-3)
    q = estimate(SPEC, device="cpu", device_mem_gib=24, batch_size=8, seq_len=128, quantization="nf4")
    assert q.weights_gib < e.weights_gib
    if checkpointing:
        full = estimate(SPEC, device="cpu", device_mem_gib=24, batch_size=8, seq_len=128)
        assert e.activations_gib < full.activations_gib / 5


def test_sft_config_from_plan(tmp_path):
    plan = plan_for(5000, MACHINES["cpu-24g"], tokens=SHORT, task="classification")
    cfg = plan.to_sft_config(tmp_path, use_cpu=True)
    assert cfg.learning_rate == plan.learning_rate and cfg.gradient_checkpointing is False
    assert cfg.label_smoothing_factor == plan.label_smoothing and cfg.neftune_noise_alpha == plan.neftune_noise_alpha


def test_time_budget_trims_epochs_then_samples_rows_and_says_so():
    free = plan_for(5000, MACHINES["cpu-24g"], tokens=LONG)
    assert free.time_estimate["minutes"] > 30 and free.train_rows is None
    tight = plan_for(5000, MACHINES["cpu-24g"], tokens=LONG, time_budget_min=30)
    assert tight.num_epochs == 1 < free.num_epochs  # fewer epochs first
    assert tight.train_rows and tight.train_rows < 5000  # then a sample
    assert tight.time_estimate["total_s"] <= 30 * 60 * 1.02
    assert "over the 30-min budget" in tight.reasons["train_rows"] and "epoch" in tight.reasons["num_epochs"]
    assert "min on this machine" in tight.reasons["time_estimate"]
    roomy = plan_for(100, MACHINES["cpu-24g"], tokens=SHORT, time_budget_min=30)
    assert roomy.train_rows is None and not roomy.time_estimate["fitted"]
