"""The visit counter: one Redis key, INCR per visit.

While Redis is away the counter fails fast: after a failure no request waits
on Redis until a back-off delay has passed, and then a single request probes
it. The delay doubles on each failed probe up to a maximum, which is also the
longest it takes to notice that Redis is back.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from .config import Settings

COUNTER_KEY = "counter"


class CounterUnavailable(Exception):
    """Redis could not be reached, or the counter is backing off after a failure."""


class CircuitBreaker:
    """Closed while calls succeed; open for a growing delay after a failure.

    Thread-safe: gunicorn's threaded workers share one breaker per process.
    When the delay has passed, exactly one caller is let through as a probe;
    the others keep failing fast until the probe settles the state. The delay
    doubles only when a probe fails: requests that were already in flight
    when Redis went away open the breaker once, not once each.
    """

    CLOSED, PROBE = "closed", "probe"

    def __init__(self, initial: float, maximum: float, clock: Callable[[], float] = time.monotonic):
        self.initial = initial
        self.maximum = maximum
        self._clock = clock
        self._lock = threading.Lock()
        self._delay = 0.0
        self._open_until = 0.0
        self._probing = False

    @property
    def is_open(self) -> bool:
        return self._delay > 0

    @property
    def delay(self) -> float:
        return self._delay

    def allow(self) -> str | None:
        """CLOSED or PROBE when the caller may go ahead (it must then report
        how it went with exactly one of the record_ methods), None when not."""
        if self._delay == 0:
            # Closed, read without the lock: every request passes here. A
            # failure recorded meanwhile makes this call one of those that
            # were already in flight, which the breaker allows for.
            return self.CLOSED
        with self._lock:
            if self._delay == 0:
                return self.CLOSED
            if self._probing or self._clock() < self._open_until:
                return None
            self._probing = True
            return self.PROBE

    def record_success(self, ticket: str) -> None:
        if ticket == self.CLOSED and self._delay == 0:
            return  # closed and staying so: nothing to change
        with self._lock:
            if ticket == self.PROBE or not self._probing:
                self._delay = 0.0
            if ticket == self.PROBE:
                self._probing = False

    def record_failure(self, ticket: str) -> None:
        with self._lock:
            if ticket == self.PROBE:
                self._delay = min(self.maximum, self._delay * 2)
                self._probing = False
            elif self._delay == 0:
                self._delay = self.initial
            else:
                return  # already open: an in-flight failure changes nothing
            self._open_until = self._clock() + self._delay

    def record_abandoned(self, ticket: str) -> None:
        """The call ended neither way (an unexpected error): free the probe
        slot, so the next caller probes, and leave the state as it was."""
        with self._lock:
            if ticket == self.PROBE:
                self._probing = False


class VisitCounter:
    def __init__(self, client: redis.Redis, breaker: CircuitBreaker,
                 on_error: Callable[[str, Exception], None] = lambda operation, error: None):
        self.client = client
        self.breaker = breaker
        self._on_error = on_error

    @classmethod
    def from_settings(cls, settings: Settings,
                      on_error: Callable[[str, Exception], None] = lambda operation, error: None) -> VisitCounter:
        tls = {}
        if settings.redis_tls:
            tls = {"ssl": True, "ssl_cert_reqs": "required", "ssl_check_hostname": True,
                   "ssl_ca_certs": settings.redis_tls_ca_file}
        client = redis.Redis(
            host=settings.redis_host,
            port=settings.redis_port,
            db=settings.redis_db,
            username=settings.redis_username,
            password=settings.redis_password,
            socket_connect_timeout=settings.redis_connect_timeout,
            socket_timeout=settings.redis_socket_timeout,
            # The breaker decides when to try again; a retry here would make a
            # request wait several timeouts while Redis is down.
            retry=Retry(NoBackoff(), 0),
            health_check_interval=30,
            **tls,
        )
        breaker = CircuitBreaker(settings.redis_backoff_initial, settings.redis_backoff_max)
        return cls(client, breaker, on_error)

    def increment(self) -> int:
        """Add one visit and return the new count (the value INCR returned)."""
        return self._call("incr", lambda: int(self.client.incr(COUNTER_KEY)))

    def read(self) -> int:
        """Return the count without changing it."""
        return self._call("get", lambda: int(self.client.get(COUNTER_KEY) or 0))

    @property
    def available(self) -> bool:
        return not self.breaker.is_open

    def _call(self, operation: str, command: Callable[[], int]) -> int:
        ticket = self.breaker.allow()
        if ticket is None:
            raise CounterUnavailable("Redis is unavailable; backing off")
        try:
            value = command()
        except (redis.RedisError, OSError) as exc:
            self.breaker.record_failure(ticket)
            self._on_error(operation, exc)
            raise CounterUnavailable(str(exc)) from exc
        except BaseException:
            self.breaker.record_abandoned(ticket)
            raise
        self.breaker.record_success(ticket)
        return value
