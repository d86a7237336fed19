"""The advisor's error class: every message names the problem and the fix."""

from fintune.errors import FinTuneError


class AdvisorError(FinTuneError):
    """The goal, the attached data or the machine description could not be used."""
