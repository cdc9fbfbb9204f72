"""SIGINT/SIGTERM ask the training loop to stop after the current step (and save)."""

from __future__ import annotations

import logging
import signal
import threading

__all__ = ["StopFlag"]

log = logging.getLogger(__name__)


class StopFlag:
    """Context manager; ``.signal`` is the name of the first signal received, else None.

    Installed from the main thread only (elsewhere it is a no-op). A second signal stops at once.
    """

    def __init__(self) -> None:
        self.signal = None
        self._old = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        if self.signal is not None:  # a second signal: stop now
            raise KeyboardInterrupt
        self.signal = signal.Signals(signum).name
        log.warning("%s received: finishing the current step, then saving", self.signal)

    def __exit__(self, *exc) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)
