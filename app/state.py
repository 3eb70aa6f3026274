"""What every request of one app shares, built once by create_app."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from flask import current_app

if TYPE_CHECKING:
    from .config import Settings
    from .counter import VisitCounter
    from .metrics import Metrics
    from .views import Page

EXTENSION = "friendlyhello"  # the key of State in Flask's app.extensions


@dataclass
class State:
    settings: Settings
    counter: VisitCounter
    metrics: Metrics
    page: Page
    # Set on SIGTERM (gunicorn.conf.py): /readyz answers 503 from then on.
    draining: threading.Event = field(default_factory=threading.Event)


def current() -> State:
    """The State of the app serving the request in this context."""
    return current_app.extensions[EXTENSION]
