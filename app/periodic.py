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
            self._running = True
        threading.Thread(target=self._loop, name=self.name, daemon=True).start()

    def _loop(self) -> None:
        reported = False
        while True:
            time.sleep(self.interval)
            try:
                self.function()
            except Exception as error:  # say so once, and keep going: the next round may work
                if not reported:
                    print(f"{self.name}: {error!r}", file=sys.stderr)
                    reported = True
