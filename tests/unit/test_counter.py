import time

import pytest

from app.config import Settings
from app.counter import COUNTER_KEY, CircuitBreaker, CounterUnavailable, VisitCounter
from tests.conftest import wait_until


class FakeClock:
    """Time under the test's control; the breaker's only collaborator besides locks."""

    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_breaker_opens_doubles_and_closes():
    clock = FakeClock()
    breaker = CircuitBreaker(initial=0.25, maximum=1.0, clock=clock)
    assert breaker.allow()
    breaker.record_failure()
    assert breaker.is_open and not breaker.allow()
    clock.now += 0.25
    assert breaker.allow(), "one probe is let through once the delay has passed"
    assert not breaker.allow(), "only one probe at a time"
    breaker.record_failure()
    clock.now += 0.4
    assert not breaker.allow(), "the delay doubled to 0.5s"
    clock.now += 0.1
    assert breaker.allow()
    breaker.record_failure()
    breaker.record_failure()
    clock.now += 1.0
    assert breaker.allow(), "the delay is capped at the maximum"
    breaker.record_success()
    assert not breaker.is_open and breaker.allow() and breaker.allow()


@pytest.fixture
def counter(redis_server):
    settings = Settings(redis_host="127.0.0.1", redis_port=redis_server.port,
                        redis_backoff_initial=0.1, redis_backoff_max=0.5)
    return VisitCounter.from_settings(settings)


def test_increment_returns_the_value_incr_returned(counter, redis_server):
    redis_server.client().set(COUNTER_KEY, 41)
    assert counter.increment() == 42
    assert counter.read() == 42
    assert int(redis_server.client().get(COUNTER_KEY)) == 42


def test_read_of_a_new_counter_is_zero(counter):
    assert counter.read() == 0


def test_fails_fast_while_redis_is_down_and_recovers(counter, redis_server):
    counter.increment()
    redis_server.stop()
    with pytest.raises(CounterUnavailable):
        counter.increment()
    started = time.perf_counter()
    for _ in range(100):
        with pytest.raises(CounterUnavailable):
            counter.increment()
    assert time.perf_counter() - started < 0.5, "calls while the breaker is open never wait on Redis"
    assert not counter.available

    redis_server.start()

    def counts():
        try:
            return counter.increment()
        except CounterUnavailable:
            return None

    # No persistence in the test server: a restarted Redis counts from 1 again.
    assert wait_until(counts, timeout=5, message="the counter to recover") == 1
    assert counter.available


def test_wrong_password_disables_the_counter(tmp_path):
    from tests.conftest import RedisServer

    server = RedisServer(tmp_path, password="right").start()
    try:
        wrong = VisitCounter.from_settings(
            Settings(redis_host="127.0.0.1", redis_port=server.port, redis_password="wrong"))
        with pytest.raises(CounterUnavailable):
            wrong.increment()
        right = VisitCounter.from_settings(
            Settings(redis_host="127.0.0.1", redis_port=server.port, redis_password="right"))
        assert right.increment() == 1
    finally:
        server.stop()


def test_errors_and_values_are_reported(redis_server):
    errors, values = [], []
    counter = VisitCounter.from_settings(
        Settings(redis_host="127.0.0.1", redis_port=redis_server.port),
        on_error=errors.append, on_value=values.append)
    counter.increment()
    counter.increment()
    redis_server.stop()
    with pytest.raises(CounterUnavailable):
        counter.read()
    assert values == [1, 2]
    assert errors == ["get"]
