"""``FinTuneSFTTrainer``: TRL's ``SFTTrainer`` with CPU speed-ups that leave the loss unchanged.

1. **Padding-free batches.** The examples of a batch are concatenated into one row with restarting
   ``position_ids``; transformers builds a block-diagonal causal mask from them, so every token sees
   exactly what it would in a padded batch, but no compute is spent on padding. (TRL's collator does
   the flattening; TRL only refuses ``padding_free`` + ``max_length`` because it cannot truncate then,
   so truncation happens during dataset preparation and the collator is swapped in afterwards.)
2. **LM head only where the loss needs it.** TRL's fused LM head scores every position on devices
   without Triton (to keep shapes static for compilers). On CPU we score only positions with a label,
   i.e. the answer tokens under completion-only loss: for short answers the 49k-wide projection and
   its backward shrink by 10-20x. Same per-token log-probabilities, so the same loss.

Both are switched off automatically where they could change results: label smoothing (needs the full
logits; the job passes ``speedups=False``); padding-free also stays off with NEFTune (its noise scales with
the row length) and for vision data.
"""

from __future__ import annotations

import contextlib

from trl import SFTTrainer
from trl.trainer.sft_trainer import DataCollatorForLanguageModeling


@contextlib.contextmanager
def compact_lm_head():
    """Make TRL's fused LM head project only labelled positions on CPU too (restored on exit)."""
    try:
        import trl.trainer.utils as trl_utils
    except ImportError:  # pragma: no cover
        yield
        return
    original = getattr(trl_utils, "_use_triton", None)
    if original is None:  # a TRL without this switch: nothing to do
        yield
        return
    trl_utils._use_triton = lambda device: True if device.type == "cpu" else original(device)
    try:
        yield
    finally:
        trl_utils._use_triton = original


class FinTuneSFTTrainer(SFTTrainer):
    """SFTTrainer + padding-free batches + compact LM head (see module doc). ``speedups=False`` = plain TRL."""

    def __init__(self, *args, speedups: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.speedups = bool(speedups)
        self.padding_free_swapped = False
        # NEFTune scales its noise by 1/sqrt(sequence length x width): one long packed row would shrink it, so keep padding.
        wants_padding_free = self.speedups and not self._is_vision_dataset and not self.padding_free and not self.args.neftune_noise_alpha
        if wants_padding_free and isinstance(self.data_collator, DataCollatorForLanguageModeling):
            self.data_collator = DataCollatorForLanguageModeling(
                pad_token_id=self._tokenizer.pad_token_id, padding_free=True, pad_to_multiple_of=self.args.pad_to_multiple_of
            )
            self.padding_free = True
            self.padding_free_swapped = True

    def active_speedups(self) -> dict[str, bool]:
        """Which speed-ups this trainer really uses (recorded in the run's metrics.json)."""
        import trl.trainer.utils as trl_utils

        return {"padding_free": bool(self.padding_free),
                "compact_lm_head": self.speedups and getattr(trl_utils, "_use_triton", None) is not None}

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        ctx = compact_lm_head() if self.speedups else contextlib.nullcontext()
        with ctx:
            return super().compute_loss(model, inputs, return_outputs=return_outputs, num_items_in_batch=num_items_in_batch)
