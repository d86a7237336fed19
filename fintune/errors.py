"""The root of every error FinTune shows to a user.

Each package has its own base class (``ModelError`` here, ``RagError``, ``TrainerError``,
``AdvisorError``) deriving from ``FinTuneError``; messages say what went wrong *and* how to fix it.
Only ``ui/`` turns them into ``gr.Error``; the CLI prints them without a traceback.
"""


class FinTuneError(Exception):
    """An error whose message is fit for the user: the problem, then the fix."""


class ModelError(FinTuneError):
    """The base model or an adapter could not be provisioned or loaded."""
