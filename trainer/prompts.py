"""The one definition of what a run's model sees, shared by training, evaluation, Compare and Chat.

Training and inference prompts must be identical, so every path builds a run's conversation here:
``[system?] + user(prompt)``. Classification runs carry their label set in a short system prompt
("Answer with one of: bearish, bullish, neutral."). It replaces the ~20-token default system prompt that
SmolLM2's chat template injects when none is given (measured: 76 -> 60 tokens per tweet example, -21% training
tokens), and it tells the base model the label vocabulary, so base and tuned are judged on the same prompt.
Free-form runs keep the template's default (``system_prompt=None``), as users chat with them.
"""

from __future__ import annotations

TASKS = ("classification", "freeform")


def label_instruction(labels: list[str]) -> str:
    return f"Answer with one of: {', '.join(labels)}."


def system_prompt_for(task: str, labels: list[str] | None) -> str | None:
    """The system prompt a new run is trained (and then always prompted) with."""
    if task == "classification" and labels:
        return label_instruction(list(labels))
    return None


def conversation(prompt: str, system_prompt: str | None = None) -> list[dict[str, str]]:
    """One example's prompt as chat messages, exactly as in training."""
    messages = [{"role": "system", "content": system_prompt}] if system_prompt is not None else []
    messages.append({"role": "user", "content": prompt})
    return messages
