"""Keep library noise that is not the user's concern out of the terminal and the app log.

Called first by every entry point (the ``fintune`` CLI, the app, the training job). It only sets defaults, so
``FINTUNE_VERBOSE=1`` (or any of these variables set by the user) brings the libraries' own output back.
"""

from __future__ import annotations

import logging
import os

# Read by the libraries when they are first imported (and inherited by the training subprocess):
LIBRARY_ENV_DEFAULTS = {
    "TRANSFORMERS_VERBOSITY": "error",
    # datasets logs a failed JSON parse at ERROR before raising; FinTune's loader turns that into its own message.
    "DATASETS_VERBOSITY": "critical",
    # "Loading weights" bars for a one-second load; long FinTune steps draw their own bars.
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TOKENIZERS_PARALLELISM": "false",
}
# Loggers of libraries imported indirectly: sentence-transformers -> transformers -> peft imports bitsandbytes,
# whose CPU backend warns that an optional kernel package is missing even when 4-bit is never used.
NOISY_LOGGERS = ("bitsandbytes",)


def quiet_libraries() -> None:
    if os.environ.get("FINTUNE_VERBOSE", "").strip() not in ("", "0"):
        return
    for name, value in LIBRARY_ENV_DEFAULTS.items():
        os.environ.setdefault(name, value)
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
