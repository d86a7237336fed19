"""How the web app is served."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from fintune.errors import FinTuneError

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@dataclass
class ServeConfig:
    """Server settings; safe by default (loopback only, no exposure without a login)."""

    host: str = field(default="127.0.0.1", metadata={"help": "Interface to bind; non-loopback hosts require auth."})
    port: int = field(default=7860, metadata={"help": "TCP port."})
    auth: str | None = field(default=None, metadata={"help": "USER:PASSWORD for a login page; falls back to $FINTUNE_AUTH."})
    base_model: str | None = field(default=None, metadata={"help": "Base model alias, Hugging Face id or local folder."})
    max_upload_mb: float = field(default=100, metadata={"help": "Largest accepted upload in MB."})

    def __post_init__(self) -> None:
        self.auth = self.auth or os.environ.get("FINTUNE_AUTH") or None
        if not 1 <= int(self.port) <= 65535:
            raise FinTuneError(f"--port {self.port} is not a valid TCP port; use 1-65535 (default 7860).")
        if self.auth is not None and ":" not in self.auth:
            raise FinTuneError("--auth must look like USER:PASSWORD (or set FINTUNE_AUTH=USER:PASSWORD).")
        if self.host not in LOOPBACK and not self.auth:
            raise FinTuneError(
                f"--host {self.host} would expose the app to the network without a login. "
                "Add --auth USER:PASSWORD (or set FINTUNE_AUTH), or keep the default --host 127.0.0.1."
            )
        if self.max_upload_mb <= 0:
            raise FinTuneError("--max-upload-mb must be positive, e.g. 100.")

    @property
    def credentials(self) -> tuple[str, str] | None:
        if not self.auth:
            return None
        user, _, password = self.auth.partition(":")
        return user, password
