"""Fine-tune path: load and validate Q&A data, run (Q)LoRA training as a background job, keep a run registry."""

from trainer.errors import TrainerError
from trainer.plan import TrainPlan

__all__ = ["TrainPlan", "TrainerError"]
