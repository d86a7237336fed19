"""The advisor's tunable knobs, in one typed, validated dataclass."""

from __future__ import annotations

from dataclasses import dataclass, field

from advisor.errors import AdvisorError

APPROACHES = ("rag", "finetune", "both", "prompt")


@dataclass(frozen=True)
class AdvisorConfig:
    """How goal and data evidence are weighed. Defaults were tuned on the dev goals only."""

    k: int = field(default=7, metadata={"help": "Nearest labelled example goals (anchors) that vote on the approach."})
    temperature: float = field(default=0.04, metadata={"help": "Softmax temperature over anchor similarities: lower = the closest anchors dominate."})
    min_similarity: float = field(default=0.30, metadata={"help": "Below this cosine similarity to every anchor the goal is unlike anything known: ask instead of guessing."})
    min_margin: float = field(default=0.10, metadata={"help": "Clarify band: the goal is vague when the `vague` share is within this of the best approach's share."})
    tie_margin: float = field(default=0.05, metadata={"help": "If the top two approaches' shares differ by less than this, ask which one is meant."})
    signal_threshold: float = field(default=0.2, metadata={"help": "A signal (freshness, label set, ...) is reported when its vote share reaches this."})
    facet_threshold: float = field(default=0.5, metadata={"help": "A clause counts as asking for a facet (fixed format, current facts, ...) when its similarity to a facet phrase reaches this."})
    both_facet_threshold: float = field(default=0.6, metadata={"help": "A clause asking for the other side (a format/style on a knowledge goal, current facts on a mapping goal) at this similarity makes the answer `both`."})
    data_weight: float = field(default=1.0, metadata={"help": "Weight of the attached data's evidence relative to the goal's (whose shares sum to 1)."})
    unclear_confidence_cap: float = field(default=0.4, metadata={"help": "Confidence ceiling when the advisor asks for clarification."})

    def __post_init__(self) -> None:
        if self.k < 1:
            raise AdvisorError(f"AdvisorConfig.k={self.k} must be at least 1; use e.g. 7.")
        if self.temperature <= 0:
            raise AdvisorError(f"AdvisorConfig.temperature={self.temperature} must be positive; use e.g. 0.04.")
        for name in ("min_similarity", "min_margin", "tie_margin", "facet_threshold", "both_facet_threshold", "signal_threshold", "unclear_confidence_cap"):
            value = getattr(self, name)
            if not 0 <= value <= 1:
                raise AdvisorError(f"AdvisorConfig.{name}={value} must be between 0 and 1.")
        if self.data_weight < 0:
            raise AdvisorError(f"AdvisorConfig.data_weight={self.data_weight} must be ≥ 0 (0 ignores the data).")
