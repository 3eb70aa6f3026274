from dataclasses import replace

import pytest

from app.counter import COUNTER_KEY, CircuitBreaker, CounterUnavailable, VisitCounter
from tests.support import Certificates, RedisServer, settings_for


class FakeClock:
    """Time under the test's control; the breaker's only collaborator besides locks."""

    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def breaker(clock):
    return CircuitBreaker(initial=0.25, maximum=1.0, clock=clock)


def test_closed_breaker_lets_every_call_through(breaker):
    assert breaker.allow() == breaker.allow() == CircuitBreaker.CLOSED
    assert not breaker.is_open


def test_a_failure_opens_it_for_the_initial_delay(breaker, clock):
    breaker.record_failure(breaker.allow())
    assert breaker.is_open and breaker.delay == 0.25 and breaker.allow() is None
    clock.now += 0.24
    assert breaker.allow() is None


def test_in_flight_failures_open_it_once_not_once_each(breaker, clock):
    tickets = [breaker.allow() for _ in range(8)]
    for ticket in tickets:
        breaker.record_failure(ticket)
    assert breaker.delay == 0.25, "eight requests that were in flight do not double the delay eight times"
    clock.now += 0.25
    assert breaker.allow() == CircuitBreaker.PROBE


def test_one_probe_at_a_time_once_the_delay_has_passed(breaker, clock):
    breaker.record_failure(breaker.allow())
    clock.now += 0.25
    assert breaker.allow() == CircuitBreaker.PROBE
    assert breaker.allow() is None and breaker.allow() is None


@pytest.mark.parametrize("failed_probes, delay", [(1, 0.5), (2, 1.0), (3, 1.0), (6, 1.0)])
def test_each_failed_probe_doubles_the_delay_up_to_the_maximum(breaker, clock, failed_probes, delay):
    breaker.record_failure(breaker.allow())
    for _ in range(failed_probes):
        clock.now += breaker.delay
        breaker.record_failure(breaker.allow())
    assert breaker.delay == delay
    clock.now += delay - 0.01
    assert breaker.allow() is None
    clock.now += 0.01
    assert breaker.allow() == CircuitBreaker.PROBE


def test_a_successful_probe_closes_it(breaker, clock):
    breaker.record_failure(breaker.allow())
    clock.now += 0.25
    breaker.record_success(breaker.allow())
    assert not breaker.is_open and breaker.allow() == CircuitBreaker.CLOSED


def test_an_abandoned_probe_frees_the_slot_and_changes_nothing_else(breaker, clock):
    breaker.record_failure(breaker.allow())
    clock.now += 0.25
    breaker.record_abandoned(breaker.allow())
    assert breaker.delay == 0.25
    assert breaker.allow() == CircuitBreaker.PROBE, "the next caller probes; the breaker is not stuck open"


def test_an_unexpected_error_during_a_probe_does_not_stick_the_counter_open(clock):
    """Any exception, not only Redis's, ends the probe."""

    class Flaky:
        def __init__(self):
            self.answers = [OSError("refused"), ValueError("a surprise"), 7]

        def incr(self, key):
            answer = self.answers.pop(0)
            if isinstance(answer, Exception):
                raise answer
            return answer

    counter = VisitCounter(Flaky(), CircuitBreaker(initial=0.25, maximum=1.0, clock=clock))
    with pytest.raises(CounterUnavailable):
        counter.increment()
    clock.now += 0.25
    with pytest.raises(ValueError):
        counter.increment()
    assert counter.increment() == 7, "the next call probed again and closed the breaker"
    assert counter.available


@pytest.fixture
def counter(redis_server):
    return VisitCounter.from_settings(settings_for(redis_server, redis_backoff_initial=0.1, redis_backoff_max=0.5))


def test_increment_returns_the_value_incr_returned(counter, redis_server):
    redis_server.client().set(COUNTER_KEY, 41)
    assert counter.increment() == 42
    assert counter.read() == 42
    assert int(redis_server.client().get(COUNTER_KEY)) == 42


def test_read_of_a_new_counter_is_zero(counter):
    assert counter.read() == 0


def test_a_frozen_redis_is_asked_once_then_only_by_probes(redis_server, clock):
    """A frozen Redis makes every command wait the socket timeout: only the
    breaker keeps the other calls from waiting too. Counted, not timed: the
    calls that reached Redis are the ones that reported an error."""
    errors = []
    counter = VisitCounter.from_settings(
        settings_for(redis_server, redis_socket_timeout=0.2, redis_backoff_initial=0.25, redis_backoff_max=1.0),
        on_error=lambda operation, error: errors.append(operation))
    counter.breaker._clock = clock
    assert counter.increment() == 1
    redis_server.freeze()
    try:
        for _ in range(50):
            with pytest.raises(CounterUnavailable):
                counter.increment()
        assert errors == ["incr"], "after the first timeout, no call waited on Redis"
        clock.now += 0.25
        with pytest.raises(CounterUnavailable):
            counter.increment()
        assert errors == ["incr", "incr"], "the probe, and only it, waited"
    finally:
        redis_server.thaw()
    clock.now += 0.5
    # The commands that timed out were already in Redis's socket buffer: a
    # thawed Redis may still run them, so the count is 2 or more.
    assert counter.increment() in (2, 3, 4), "the next probe finds Redis back and closes the breaker"
    assert counter.available


def test_wrong_password_disables_the_counter(tmp_path):
    from tests.support import RedisServer

    server = RedisServer(tmp_path, password="right").start()
    try:
        wrong = VisitCounter.from_settings(
            settings_for(server, redis_password="wrong"))
        with pytest.raises(CounterUnavailable):
            wrong.increment()
        right = VisitCounter.from_settings(
            settings_for(server, redis_password="right"))
        assert right.increment() == 1
    finally:
        server.stop()


def test_failed_commands_are_reported(redis_server):
    errors = []
    counter = VisitCounter.from_settings(settings_for(redis_server),
                                         on_error=lambda operation, error: errors.append(operation))
    assert [counter.increment(), counter.increment()] == [1, 2]
    redis_server.stop()
    with pytest.raises(CounterUnavailable):
        counter.read()
    assert errors == ["get"]


# --- TLS and an ACL user, as managed Redis services serve it ---------------

USER = ("friendlyhello", "s3cret")


@pytest.fixture
def tls_redis(tmp_path):
    """A redis-server that speaks only TLS, with a certificate for localhost,
    and lets in only the ACL user USER."""
    server = RedisServer(tmp_path, tls=Certificates(tmp_path / "tls", ["localhost"]), user=USER).start()
    yield server
    server.stop()


def tls_counter(server: RedisServer, errors: list | None = None, **overrides) -> VisitCounter:
    errors = [] if errors is None else errors
    settings = replace(settings_for(server), redis_host="localhost", redis_tls=True,
                       redis_tls_ca_file=str(server.tls.ca), redis_username=USER[0], redis_password=USER[1])
    return VisitCounter.from_settings(replace(settings, **overrides),
                                      on_error=lambda operation, error: errors.append(operation))


def test_counts_over_tls_as_the_acl_user(tls_redis):
    counter = tls_counter(tls_redis)
    assert [counter.increment(), counter.increment(), counter.read()] == [1, 2, 2]
    assert int(tls_redis.client().get(COUNTER_KEY)) == 2
    # CLIENT LIST from the test's own connection: the counter's is there too, as the ACL user.
    users = [entry["user"] for entry in tls_redis.client().client_list()]
    assert users.count(USER[0]) >= 2, users


def test_the_tls_port_refuses_plain_connections(tls_redis):
    """The server under test is TLS-only: the counts above cannot have gone in clear."""
    plain = VisitCounter.from_settings(replace(settings_for(tls_redis), redis_username=USER[0],
                                               redis_password=USER[1]))
    with pytest.raises(CounterUnavailable):
        plain.increment()


@pytest.mark.parametrize("wrong", ["another CA", "another host name", "a wrong password"])
def test_a_failed_tls_or_acl_check_degrades_the_counter(tls_redis, tmp_path, wrong):
    overrides = {
        "another CA": {"redis_tls_ca_file": str(Certificates(tmp_path / "other", ["localhost"]).ca)},
        # The certificate names localhost only.
        "another host name": {"redis_host": "127.0.0.1"},
        "a wrong password": {"redis_password": "wrong"},
    }[wrong]
    errors = []
    counter = tls_counter(tls_redis, errors, **overrides)
    with pytest.raises(CounterUnavailable):
        counter.increment()
    assert errors == ["incr"]
    assert tls_redis.client().get(COUNTER_KEY) is None, "nothing was counted"
