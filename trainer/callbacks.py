"""A ``TrainerCallback`` that writes progress events and honours a stop request at step boundaries."""

from __future__ import annotations

import time
from pathlib import Path

from transformers import TrainerCallback

from trainer.events import EventWriter
from trainer.registry import STOP_FILE


class EventCallback(TrainerCallback):
    """Logs -> ``log``/``eval`` events (loss, LR, tokens/s, ETA); a ``STOP`` file -> checkpoint + stop."""

    def __init__(self, run_dir: str | Path, writer: EventWriter):
        self.run_dir = Path(run_dir)
        self.writer = writer
        self.stop_requested = False
        self._t0 = None
        self._step0 = 0
        self._last_tokens: tuple[float, float] | None = None  # (time, cumulative tokens)

    def _stop_file(self) -> Path:
        return self.run_dir / STOP_FILE

    def on_train_begin(self, args, state, control, **kwargs):
        self._t0 = time.time()
        self._step0 = state.global_step
        if state.is_world_process_zero:
            self.writer.phase("training", total_steps=state.max_steps,
                              resumed_from_step=state.global_step if state.global_step else None,
                              message=f"resumed from step {state.global_step}" if state.global_step else None)
        if self._stop_file().exists():  # stop requested while loading: stop before the first step
            self.stop_requested = True
            control.should_training_stop = True
        return control

    def on_step_end(self, args, state, control, **kwargs):
        if self._stop_file().exists():
            self.stop_requested = True
            control.should_save = True
            control.should_training_stop = True
            if state.is_world_process_zero:
                self.writer.phase("training", message=f"stop requested: saving a checkpoint at step {state.global_step}")
        return control

    def _eta(self, state) -> float | None:
        done = state.global_step - self._step0
        if not done or self._t0 is None or not state.max_steps:
            return None
        return round((time.time() - self._t0) / done * max(0, state.max_steps - state.global_step), 1)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or not logs:
            return control
        if "eval_loss" in logs:
            self.writer.emit("eval", step=state.global_step, eval_loss=logs["eval_loss"],
                             eval_token_accuracy=logs.get("eval_mean_token_accuracy"))
            return control
        if "loss" not in logs and "train_loss" not in logs:
            return control
        now = time.time()
        tokens_per_s = None
        if "num_tokens" in logs:
            if self._last_tokens is not None and now > self._last_tokens[0]:
                tokens_per_s = round((logs["num_tokens"] - self._last_tokens[1]) / (now - self._last_tokens[0]), 1)
            self._last_tokens = (now, float(logs["num_tokens"]))
        if "loss" in logs:
            self.writer.emit("log", step=state.global_step, total_steps=state.max_steps, loss=logs["loss"],
                             learning_rate=logs.get("learning_rate"), epoch=logs.get("epoch"),
                             token_accuracy=logs.get("mean_token_accuracy"), tokens_per_s=tokens_per_s, eta_s=self._eta(state))
        return control

    def on_save(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            path = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            self.writer.emit("checkpoint", step=state.global_step, path=str(path))
        return control
