"""The advisor: goal (+ data, + machine) → approach, confidence, reasons and, for fine-tuning, a TrainPlan.

Public API (heavy libraries load lazily on first use):
    advise(goal, data=None, machine=None, base_model=None, config=None) -> Recommendation
    Advisor(machine=None, base_model=None, config=None).advise(goal, data) / .advise_many([(goal, data), ...])
    Recommendation.to_dict()  # the JSON schema in docs/advisor.md
"""

from advisor.config import APPROACHES, AdvisorConfig
from advisor.errors import AdvisorError

__all__ = ["APPROACHES", "Advisor", "AdvisorConfig", "AdvisorError", "Recommendation", "advise"]


def __getattr__(name):
    if name in ("Advisor", "Recommendation", "advise"):
        from advisor import decide

        return getattr(decide, name)
    raise AttributeError(name)
