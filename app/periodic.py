"""Work done in bulk, off the request path: a function called every few
seconds by a thread of each process, and once more when the process exits."""

from __future__ import annotations

import atexit
import os
import sys
import threading
import time
from typing import Callable


class Periodic:
    """Calls FUNCTION every INTERVAL seconds from a daemon thread, started by
    the first ensure_running() of each process: threads do not survive fork,
    so each gunicorn worker starts its own. FUNCTION also runs at exit."""

    def __init__(self, name: str, interval: float, function: Callable[[], None]):
        self.name = name
        self.interval = interval
        self.function = function
        self._lock = threading.Lock()
        self._running = False
        atexit.register(function)
        os.register_at_fork(after_in_child=self._forked)

    def _forked(self) -> None:
        self._lock = threading.Lock()
        self._running = False

    def ensure_running(self) -> None:
        if self._running:
            return
        with self._lock:
            if self._running:
                return
            # Marked running once started: a thread that could not start is tried again next call.
            threading.Thread(target=self._loop, name=self.name, daemon=True).start()
            self._running = True

    def _loop(self) -> None:
        failing = False
        while True:
            time.sleep(self.interval)
            try:
                self.function()
            except Exception as error:  # say so once per spell of failures, and keep going
                if not failing:
                    print(f"{self.name}: failing: {error!r}", file=sys.stderr)
                    failing = True
            else:
                if failing:
                    print(f"{self.name}: working again", file=sys.stderr)
                    failing = False
