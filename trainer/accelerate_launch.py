"""Multi-GPU training through ``accelerate launch`` (DDP by default).

``fintune train DATA --launcher accelerate --num-processes N`` writes ``<run>/accelerate_config.yaml``
and the JobManager starts ``accelerate launch --config_file <that> -m trainer.job <run>`` instead of
``python -m trainer.job``. Every rank trains; rank 0 alone writes events, run.json and the adapter.
DeepSpeed and FSDP are selected by passing your own accelerate config (``--accelerate-config``);
see docs/training.md for examples.
"""

from __future__ import annotations

import shutil
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

from trainer.errors import TrainerError

CONFIG_FILE = "accelerate_config.yaml"


@dataclass
class LaunchSpec:
    """How to spread one run over several GPUs."""

    num_processes: int = field(default=2, metadata={"help": "Processes = GPUs on this machine (one process per GPU)."})
    mixed_precision: str = field(default="bf16", metadata={"help": "'bf16', 'fp16' or 'no'."})
    distributed_type: str = field(default="MULTI_GPU", metadata={"help": "'MULTI_GPU' (DDP). DeepSpeed/FSDP: pass your own config file."})
    main_process_port: int = field(default=29500, metadata={"help": "TCP port for the rendezvous of the processes."})
    config_file: str | None = field(default=None, metadata={"help": "Use this accelerate YAML instead of writing one (DeepSpeed, FSDP, multi-node)."})

    def __post_init__(self) -> None:
        if self.num_processes < 1:
            raise TrainerError("--num-processes must be at least 1 (one per GPU).")
        if self.mixed_precision not in ("bf16", "fp16", "no"):
            raise TrainerError("mixed_precision must be 'bf16', 'fp16' or 'no'.")
        if self.config_file and not Path(self.config_file).is_file():
            raise TrainerError(f"Accelerate config {self.config_file} not found. Create one with `accelerate config` or drop --accelerate-config.")


def config_yaml(spec: LaunchSpec) -> str:
    """An accelerate config for single-node DDP."""
    return "\n".join([
        "# Written by FinTune: single-node DDP, one process per GPU.",
        "compute_environment: LOCAL_MACHINE",
        f"distributed_type: {spec.distributed_type}",
        "downcast_bf16: 'no'",
        "gpu_ids: all",
        "machine_rank: 0",
        "main_training_function: main",
        f"main_process_port: {spec.main_process_port}",
        f"mixed_precision: {spec.mixed_precision}",
        "num_machines: 1",
        f"num_processes: {spec.num_processes}",
        "rdzv_backend: static",
        "same_network: true",
        "use_cpu: false",
        "",
    ])


def write_config(run_dir: str | Path, spec: LaunchSpec) -> Path:
    """Write (or copy the user's) accelerate config into the run folder and return its path."""
    dest = Path(run_dir) / CONFIG_FILE
    if spec.config_file:
        shutil.copyfile(spec.config_file, dest)
    else:
        dest.write_text(config_yaml(spec), encoding="utf-8")
    return dest


def build_command(run_dir: str | Path, python: str | None = None) -> list[str]:
    """The command the JobManager runs for an accelerate run (config already written)."""
    folder = Path(run_dir)
    config = folder / CONFIG_FILE
    if not config.is_file():
        raise TrainerError(f"{config} is missing; start the run again with --launcher accelerate.")
    return [python or sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(config),
            "-m", "trainer.job", str(folder)]


def spec_dict(spec: LaunchSpec) -> dict:
    return asdict(spec)
