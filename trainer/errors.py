from fintune.errors import FinTuneError


class TrainerError(FinTuneError):
    """Training data, plan or job problem, with the fix in the message."""
