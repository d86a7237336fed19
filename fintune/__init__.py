"""FinTune core: paths, errors, base-model provisioning, the chat engine and the CLI.

The packages ``advisor``, ``rag``, ``trainer`` and ``ui`` build on this one.
Nothing here imports torch at module import time, so the CLI and UI start fast.
"""

__version__ = "0.1.0"
