"""A tiny random chat model for fast tests and smoke runs (no download, builds in about a second).

``tiny_model_dir(root)`` writes a 2-layer Llama with a byte-level BPE tokenizer and a ChatML chat
template into ``root`` and returns the folder, which works anywhere a base-model folder does
(``--base-model /that/folder``). It learns nothing useful; it exists so the data, job and UI paths
can be exercised end to end in seconds.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

# Tests set this (seconds) to slow every training step, so stop/kill/resume can be exercised with the tiny model.
STEP_DELAY_ENV = "FINTUNE_TEST_STEP_DELAY_S"

CHATML = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

_CORPUS = [
    "The stock rallied after earnings beat expectations and guidance was raised.",
    "Shares fell as the bank cut its price target on weak demand.",
    "What is a bond? A bond is a loan to a company or government that pays interest.",
    "bearish bullish neutral sentiment market price yield dividend equity debt",
    "Question answer prompt completion instruction input output label text",
    "0123456789 $ % . , ? ! : ; - ( ) ' \"",
]


def tiny_model_dir(root: str | Path, vocab_size: int = 400, hidden: int = 32, layers: int = 2) -> Path:
    """Create (once) and return a tiny Llama chat model folder under ``root``."""
    folder = Path(root) / "tiny-chat-model"
    if (folder / "config.json").is_file() and (folder / "tokenizer.json").is_file():
        return folder
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(_CORPUS * 20, trainer=trainer)
    hf_tok = PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>", bos_token="<|im_start|>", unk_token="<|endoftext|>"
    )
    hf_tok.chat_template = CHATML
    config = LlamaConfig(
        vocab_size=len(hf_tok), hidden_size=hidden, intermediate_size=hidden * 2, num_hidden_layers=layers,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048, tie_word_embeddings=True,
        bos_token_id=hf_tok.bos_token_id, eos_token_id=hf_tok.eos_token_id, pad_token_id=hf_tok.pad_token_id,
    )
    import torch

    torch.manual_seed(0)
    model = LlamaForCausalLM(config)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder, safe_serialization=True)
    hf_tok.save_pretrained(folder)
    return folder


def injected_callbacks() -> list:
    """Callbacks a test injects into a job through the environment; [] in normal use (the variable is unset)."""
    delay = float(os.environ.get(STEP_DELAY_ENV, "0") or 0)
    if delay <= 0:
        return []
    from transformers import TrainerCallback

    class SlowSteps(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            time.sleep(delay)

    return [SlowSteps()]
