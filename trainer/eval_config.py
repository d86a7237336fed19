"""How a run is evaluated (``EvalConfig``) and the conversation each held-out row becomes."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from trainer import metrics
from trainer.errors import TrainerError
from trainer.prompts import conversation, label_instruction

CLASSIFICATION_ANSWERS = ("labels", "generate")


@dataclass
class EvalConfig:
    """How to evaluate a run. The defaults take a few minutes on a laptop CPU with the default model."""

    max_examples: int = field(default=200, metadata={"help": "Evaluate the first N held-out rows (0 = all). Each row is answered twice (base and tuned)."})
    batch_size: int = field(default=8, metadata={"help": "Prompts scored or generated together; lower it if memory is tight."})
    classification_answers: str = field(default="labels", metadata={"help": f"One of {CLASSIFICATION_ANSWERS}: 'labels' scores each label's log-likelihood and answers with the best (every answer is a label, for base and tuned alike); 'generate' decodes free text and maps it to a label (reports the invalid-answer rate)."})
    temperature: float = field(default=0.0, metadata={"help": "0 = greedy, so scores are reproducible. Same for base and tuned."})
    top_p: float = field(default=1.0, metadata={"help": "Nucleus sampling (only used when temperature > 0)."})
    repetition_penalty: float = field(default=1.0, metadata={"help": "1.0 = off; short label answers need none."})
    max_new_tokens: int | None = field(default=None, metadata={"help": "Answer length cap; None = 16 tokens for classification (a label, or a short sentence naming it), 160 for free-form."})
    regression: bool = field(default=True, metadata={"help": "Also answer the fixed general questions before/after to catch lost general ability."})
    regression_max_new_tokens: int = field(default=48, metadata={"help": "Answer length cap for the regression questions."})
    regression_drop_threshold: float = field(default=0.05, metadata={"help": "Flag the run when mean similarity on the general questions drops by more than this."})
    embedding_similarity: bool = field(default=True, metadata={"help": "Score free-form and regression answers by sentence-embedding cosine similarity (all-MiniLM-L6-v2)."})
    show_examples: int = field(default=5, metadata={"help": "How many best and worst examples to keep in the report."})

    def __post_init__(self) -> None:
        def bad(name: str, fix: str) -> TrainerError:
            return TrainerError(f"Evaluation setting `{name}`={getattr(self, name)!r} is invalid: {fix}.")

        if int(self.max_examples) < 0:
            raise bad("max_examples", "use 0 (all rows) or a positive count such as 200")
        if int(self.batch_size) < 1:
            raise bad("batch_size", "use a positive whole number such as 8")
        if self.classification_answers not in CLASSIFICATION_ANSWERS:
            raise bad("classification_answers", f"choose one of {', '.join(CLASSIFICATION_ANSWERS)}")
        if self.max_new_tokens is not None and not 1 <= int(self.max_new_tokens) <= 4096:
            raise bad("max_new_tokens", "use 1 to 4096, or leave empty for the task default")
        if not 1 <= int(self.regression_max_new_tokens) <= 4096:
            raise bad("regression_max_new_tokens", "use 1 to 4096")
        if not 0 <= self.regression_drop_threshold <= 1:
            raise bad("regression_drop_threshold", "use a similarity difference between 0 and 1, e.g. 0.05")
        if int(self.show_examples) < 0:
            raise bad("show_examples", "use 0 or more")
        self.settings(self.answer_tokens("freeform"))  # the sampling ranges are GenerationSettings' own checks

    def answer_tokens(self, task: str) -> int:
        if self.max_new_tokens:
            return int(self.max_new_tokens)
        return 16 if task == "classification" else 160

    def settings(self, max_new_tokens: int):
        """The ``GenerationSettings`` used for both base and tuned answers."""
        from fintune.engine import GenerationSettings
        from fintune.errors import ModelError

        try:
            return GenerationSettings(temperature=self.temperature, top_p=self.top_p, max_new_tokens=max_new_tokens,
                                      repetition_penalty=self.repetition_penalty)
        except ModelError as exc:
            raise TrainerError(f"Evaluation {exc}") from None

    @classmethod
    def help(cls) -> dict[str, str]:
        return {f.name: f.metadata.get("help", "") for f in fields(cls)}


def build_messages(prompt: str, task: str = "freeform", labels: list[str] | None = None, for_base: bool = False,
                   system_prompt: str | None = None) -> list[dict]:
    """The chat a model sees for one held-out row: the run's own conversation (``trainer.prompts``).

    Runs trained with a system prompt (new classification runs carry their label set there) give base and tuned
    the very same prompt. Older runs without one: the base model additionally gets the label set appended
    ("Answer with one of: ...") unless the prompt already names every label, since the tuned model learned the
    label vocabulary from its data and the base can only learn it from the prompt.
    """
    content = prompt
    if (system_prompt is None and for_base and task == "classification" and labels
            and not _names_all(prompt, labels)):
        content = f"{prompt.rstrip()}\n\n{label_instruction(labels)}"
    return conversation(content, system_prompt)


def _names_all(text: str, labels: list[str]) -> bool:
    words = f" {metrics.normalize_text(text)} "
    return all(f" {metrics.normalize_text(label)} " in words for label in labels)
