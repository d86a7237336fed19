"""The one object holding state shared by every browser session: settings and lazily loaded heavy pieces."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from ui.config import ServeConfig


@dataclass
class AppShared:
    config: ServeConfig = field(default_factory=ServeConfig)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _glossary: object = field(default=None, repr=False)
    _jobs: object = field(default=None, repr=False)

    @property
    def base_model(self) -> str | None:
        return self.config.base_model

    def engine(self):
        """The process-wide ChatEngine (loads the model on first use)."""
        from fintune.engine import ChatEngine

        return ChatEngine.shared(self.config.base_model)

    def glossary(self):
        """The default glossary index (built on first use)."""
        with self._lock:
            if self._glossary is None:
                from rag import Glossary

                self._glossary = Glossary.open()
            return self._glossary

    def reload_glossary(self):
        with self._lock:
            self._glossary = None
        return self.glossary()

    def jobs(self):
        """The training job manager (one job at a time, queue persisted on disk)."""
        with self._lock:
            if self._jobs is None:
                from trainer.manager import JobManager

                self._jobs = JobManager.shared()
            return self._jobs
