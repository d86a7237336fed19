"""What machine we are on: RAM, CPU cores, CUDA GPU and its memory, bitsandbytes availability."""

from __future__ import annotations

import importlib.util
import os
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Machine:
    """The resources a plan is sized against. Build one by hand to plan for another machine."""

    ram_gib: float
    cpu_cores: int
    gpu_name: str | None = None
    gpu_mem_gib: float = 0.0
    bitsandbytes: bool = False

    @property
    def has_cuda(self) -> bool:
        return self.gpu_name is not None

    @property
    def accelerator_mem_gib(self) -> float:
        """Memory the training run lives in: GPU memory on CUDA, else system RAM."""
        return self.gpu_mem_gib if self.has_cuda else self.ram_gib

    def describe(self) -> str:
        if self.has_cuda:
            return f"{self.gpu_name} ({self.gpu_mem_gib:.0f} GiB), {self.ram_gib:.0f} GiB RAM"
        return f"CPU only, {self.cpu_cores} cores, {self.ram_gib:.0f} GiB RAM"

    def to_dict(self) -> dict:
        return asdict(self)


def detect(with_torch: bool = True) -> Machine:
    """Read this machine. ``with_torch=False`` skips CUDA detection (and the torch import)."""
    import psutil

    ram = psutil.virtual_memory().total / 2**30
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    gpu, gpu_mem = None, 0.0
    if with_torch:
        import torch

        if torch.cuda.is_available():
            props = torch.cuda.get_device_properties(0)
            gpu, gpu_mem = props.name, props.total_memory / 2**30
    bnb = importlib.util.find_spec("bitsandbytes") is not None
    return Machine(ram_gib=round(ram, 1), cpu_cores=cores, gpu_name=gpu, gpu_mem_gib=round(gpu_mem, 1), bitsandbytes=bnb)
