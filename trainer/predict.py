"""Answers from a classification run, as Chat, Compare and ``fintune chat`` show them.

A classification run is a classifier over its labels, not a chat model: it answers with the label whose
continuation is most likely (``fintune.label_scoring``) and that label's probability, given exactly the prompt it
was trained on (``trainer.prompts``). The base model can be scored the same way for a fair side-by-side.
"""

from __future__ import annotations

from pathlib import Path

from trainer.prompts import conversation, system_prompt_for


def classifier_run(adapter: str | Path | None):
    """The run an adapter folder belongs to, when that run is a classifier with known labels; else None."""
    if not adapter:
        return None
    from trainer import registry
    from trainer.errors import TrainerError

    folder = Path(adapter).expanduser().resolve().parent
    try:
        record = registry.read_record(folder)
    except TrainerError:
        return None
    if record.get("task") != "classification" or not record.get("labels"):
        return None
    return registry.RunInfo.from_record(folder, record)


def run_system_prompt(run) -> str | None:
    record = run.record or {}
    if "system_prompt" in record and record["system_prompt"] is not None:
        return record["system_prompt"]
    return system_prompt_for("classification", run.labels)  # older runs: the label set, as evaluation gives the base


def classify(engine, run, text: str, with_adapter: bool = True):
    """``LabelScores`` for one text: the run's adapter (or, ``with_adapter=False``, the pure base) over its labels."""
    messages = conversation(text.strip(), run_system_prompt(run))
    adapter = str(run.adapter_dir) if with_adapter else None
    return engine.score_label(messages, list(run.labels), adapter=adapter)


def label_markdown(scores, run, who: str = "This run") -> str:
    """The label in bold with its probability, the other labels' probabilities, and what the run is."""
    probs = sorted(scores.probs.items(), key=lambda kv: -kv[1])
    best, p = probs[0]
    others = " · ".join(f"{label} {q:.0%}" for label, q in probs[1:])
    return (f"**{best}** ({p:.0%})" + (f" · {others}" if others else "") + "\n\n"
            f"*{who} is a classifier over {', '.join(run.labels)}: it answers with a label and its probability. "
            "Choose the base model for general questions.*")
