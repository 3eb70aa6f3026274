"""Benchmark: this service against the seed app and a bare-WSGI floor, in one run.

usage: python bench/run.py [--rounds N] [--duration S] [--rate-duration S] [--warmup S]
                           [--outage-duration S] [--connections N] [--threads N] [--profile DIR]
                           [--strict] [--sweep]

Contenders, each started fresh against one redis-server on loopback:
  (c) the floor: a bare WSGI callable with the seed's page and Redis INCR;
  (b) the seed app under gunicorn;
  (d) this service under its shipped gunicorn.conf.py;
  (a) the seed app on Flask's development server, as the seed runs it.
(b), (c) and (d) run on the same gunicorn worker class, workers and threads.

A contender is measured only after every worker has loaded the app (all idle
after start-up) and served part of a warm-up. Then:
  - saturation: wrk, the same settings for every contender, no Lua;
  - spread: the CPU time each worker used during that run (from /proc), and
    how the cores were shared by wrk, the server and Redis. The run fails
    when a worker served too little: the contender was not measured whole;
  - tail latency at a fixed rate (b, c, d): vegeta, an open-model generator
    (a slow answer does not slow the sender), at a quarter of the floor's
    capacity; a run where vegeta fell behind the rate is repeated, and after
    three tries the benchmark fails. Just before it, the host probe: the same
    piece of Python timed, whose spread over the run shows how far the
    host's own speed moved.
Then (d) again while Redis is frozen (SIGSTOP): every answer must be 200.
The visit count in Redis is checked against the answers after (d)'s wrk and
vegeta runs.
(b), (c) and (d) are measured in ROUNDS interleaved rounds, each in another
order (c b d, b d c, d c b, ...), so that a slow spell of the machine falls on
all of them; the ratios are taken within a round and reported as their median
with the lowest and highest. (a) and the frozen run are measured once.
Exit status 1 when a check of correctness or of the method fails; a missed
speed target is printed as MISS and fails the run only with --strict.
--profile DIR samples a worker of (d) with py-spy under the same load: a flame
graph (DIR/service.svg) and the functions that took the most time.
--sweep instead compares gunicorn worker/thread counts for (d).
"""

from __future__ import annotations

import argparse
import collections
import csv
import json
import math
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.config import Settings  # noqa: E402

# (d) against (b) and (c) in requests/s; (d)'s p99 at the fixed rate against (c)'s.
THROUGHPUT_TARGETS = {"b": 1.0, "c": 0.8}
FIXED_RATE_P99_TARGET = 2.0
# Of the floor's capacity: the fixed rate of the tail-latency runs. A quarter,
# not a half: this host's speed moves by up to 2x within minutes
# (bench/README.md), and at half a slow spell alone takes the floor to its
# capacity and (d), which costs more per page, past it: its queue grows, and
# the p99 then measures the spell. At a quarter every contender keeps room.
FIXED_RATE_SHARE = 0.25
# The host probe: a fixed piece of Python work timed just before each
# fixed-rate run, with nothing else running; its spread over a run is how far
# the host's own speed moved (bench/README.md).
PROBE_LOOPS = 200_000
# A worker that used less than this share of its fair part of the CPU during
# a run was not serving: the contender was not measured on all its workers.
MIN_WORKER_SHARE = 0.5
# vegeta must send at least this share of the asked rate.
MIN_RATE_KEPT = 0.98
TICKS = os.sysconf("SC_CLK_TCK")
CORES = len(os.sched_getaffinity(0))
# Installed with the test dependencies, beside this Python.
PY_SPY = Path(sys.executable).with_name("py-spy")
# vegeta is a pinned tool (make bench puts it there).
VEGETA = str(ROOT / ".tools" / "bin" / "vegeta")


# --- processes ---------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"bench: server exited with {process.returncode} before listening")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"bench: nothing listens on port {port} after {timeout}s")


def stat_fields(pid: int | str) -> list[str] | None:
    """/proc/PID/stat after the command name (state, ppid, ...); None once the process is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except (FileNotFoundError, ProcessLookupError):
        return None


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far (0 once it is gone)."""
    fields = stat_fields(pid)
    return (int(fields[11]) + int(fields[12])) / TICKS if fields else 0.0


def children(pid: int) -> list[int]:
    return sorted(int(entry.name) for entry in Path("/proc").iterdir()
                  if entry.name.isdigit() and (fields := stat_fields(entry.name)) and int(fields[1]) == pid)


def host_probe_ms() -> float:
    """Milliseconds this process takes for PROBE_LOOPS additions: the same
    work every time, so any change is the host's."""
    started = time.perf_counter()
    total = 0
    for number in range(PROBE_LOOPS):
        total += number
    return (time.perf_counter() - started) * 1000


def all_idle(pids: list[int], seconds: float) -> bool:
    """True when none of PIDS used CPU to speak of over the next SECONDS."""
    before = [cpu_seconds(pid) for pid in pids]
    time.sleep(seconds)
    return all(cpu_seconds(pid) - used < 0.02 for pid, used in zip(pids, before, strict=True))


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class Redis:
    def __init__(self, workdir: Path):
        self.port = free_port()
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(workdir)],
            stdout=subprocess.DEVNULL)
        wait_for_port(self.port, self.process)

    def count(self) -> int:
        result = subprocess.run(["redis-cli", "-p", str(self.port), "GET", "counter"],
                                capture_output=True, text=True, check=True, timeout=10)
        return int(result.stdout.strip() or 0)

    def reset(self) -> None:
        subprocess.run(["redis-cli", "-p", str(self.port), "DEL", "counter"],
                       capture_output=True, check=True, timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGCONT)
            stop(self.process)


@dataclass
class Server:
    """A contender running: its port, its process and the processes that serve."""

    label: str
    port: int
    process: subprocess.Popen
    log: Path  # what it printed, stdout and stderr
    workers: list[int] = field(default_factory=list)

    def replaced_workers(self) -> list[int]:
        """The first workers that no longer serve: gunicorn's master replaces
        a worker that died or that it killed (WORKER TIMEOUT)."""
        if self.workers == [self.process.pid]:
            return []
        return sorted(set(self.workers) - set(children(self.process.pid)))

    def error_lines(self, limit: int = 5) -> list[str]:
        """Its last lines that report an error (gunicorn's, the app's, a traceback)."""
        lines = self.log.read_text(errors="replace").splitlines() if self.log.exists() else []
        return [line[:300] for line in lines if reports_error(line)][-limit:]


def reports_error(line: str) -> bool:
    """Whether LINE, one of the service's JSON lines or gunicorn's plain ones
    (the seed's), reports an error."""
    try:
        entry = json.loads(line)
    except ValueError:
        return any(marker in line for marker in ("[ERROR]", "[CRITICAL]", "Traceback"))
    return isinstance(entry, dict) and entry.get("level") in ("error", "critical")


# --- load generators ---------------------------------------------------------

@dataclass
class Usage:
    """CPU seconds used during a run, by whom; wall seconds of the run."""

    wall: float
    generator: float
    per_worker: list[float]
    server: float
    redis: float
    stolen: float  # CPU seconds the machine's host gave to others (steal, from /proc/stat)

    def share_of_cores(self, seconds: float) -> float:
        return seconds / self.wall / CORES

    def worker_shares(self) -> list[float]:
        total = sum(self.per_worker) or 1e-9
        return [seconds / total for seconds in self.per_worker]


def stolen_seconds() -> float:
    """CPU time the hypervisor gave to other guests since boot, all cores (the "steal" of /proc/stat)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()
    return int(fields[8]) / TICKS if len(fields) > 8 else 0.0


def measure_usage(server: Server, redis: Redis, run):
    """Calls RUN() and returns its result and the CPU each process used meanwhile."""
    pids = [server.process.pid, *server.workers] if server.workers != [server.process.pid] \
        else [server.process.pid]
    before = {pid: cpu_seconds(pid) for pid in [*pids, redis.process.pid]}
    generator_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    stolen_before = stolen_seconds()
    started = time.monotonic()
    result = run()
    wall = time.monotonic() - started
    stolen = stolen_seconds() - stolen_before
    generator_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    delta = {pid: cpu_seconds(pid) - before[pid] for pid in before}
    return result, Usage(
        wall=wall,
        generator=(generator_after.ru_utime + generator_after.ru_stime
                   - generator_before.ru_utime - generator_before.ru_stime),
        per_worker=[delta[pid] for pid in server.workers],
        server=sum(delta[pid] for pid in pids),
        redis=delta[redis.process.pid],
        stolen=stolen)


@dataclass
class WrkResult:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    completed: int
    non_2xx: int
    socket_errors: int


def to_ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def wrk_command(port: int, args, duration: float) -> list[str]:
    return ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{duration:g}s", "--latency",
            f"http://127.0.0.1:{port}/"]


def parse_wrk(output: str) -> WrkResult:
    percentiles = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", output, re.M))
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return WrkResult(float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
                     to_ms(percentiles["50"]), to_ms(percentiles["99"]),
                     int(re.search(r"(\d+) requests in", output).group(1)),
                     int(non_2xx.group(1)) if non_2xx else 0,
                     sum(int(number) for number in errors.groups()) if errors else 0)


def wrk(port: int, args, duration: float) -> WrkResult:
    return parse_wrk(subprocess.run(wrk_command(port, args, duration), capture_output=True, text=True,
                                    check=True, timeout=duration + 60).stdout)


@dataclass
class RateResult:
    rate: float
    kept: float  # the share of RATE vegeta sent
    answered: float  # the share of RATE answered: below 1, the server fell behind
    p50_ms: float
    p99_ms: float
    p999_ms: float
    sent: int
    ok: int


def percentile(ordered: list[float], fraction: float) -> float:
    """Nearest rank: the smallest value with at least FRACTION of them at or below it."""
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def vegeta(port: int, rate: int, duration: float, workdir: Path) -> RateResult:
    targets = workdir / "targets.txt"
    targets.write_text(f"GET http://127.0.0.1:{port}/\n")
    results = workdir / "results.bin"
    subprocess.run([VEGETA, "attack", f"-rate={rate}/1s", f"-duration={duration:g}s", f"-targets={targets}",
                    f"-output={results}"], check=True, timeout=duration + 60)
    report = json.loads(subprocess.run([VEGETA, "report", "-type=json", str(results)], capture_output=True,
                                       text=True, check=True, timeout=60).stdout)
    rows = subprocess.run([VEGETA, "encode", "-to=csv", str(results)], capture_output=True, text=True,
                          check=True, timeout=60).stdout
    # timestamp, status code, latency in ns, ...
    records = [(int(row[1]), int(row[2]) / 1e6) for row in csv.reader(rows.splitlines())]
    latencies = sorted(latency for _, latency in records)
    if not latencies:
        raise SystemExit(f"bench: vegeta recorded no request against port {port}")
    return RateResult(rate=rate, kept=report["rate"] / rate, answered=report["throughput"] / rate,
                      p50_ms=percentile(latencies, 0.5), p99_ms=percentile(latencies, 0.99),
                      p999_ms=percentile(latencies, 0.999),
                      sent=len(records), ok=sum(1 for status, _ in records if status == 200))


# --- contenders --------------------------------------------------------------

def start(label: str, port: int, command: list[str], env: dict, expected_workers: int, redis: Redis,
          args, log: Path) -> Server:
    """Starts a contender; returns once every worker has loaded the app and served."""
    with log.open("wb") as output:
        process = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **env, "PORT": str(port)},
                                   stdout=output, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, process)
        server = Server(label, port, process, log)
        server.workers = wait_for_workers(process, expected_workers)
        # The port accepts before the workers have imported the app; connections
        # accepted then would stay with whichever worker was first. Warm up with
        # fresh connections until every worker takes its part.
        for _ in range(5):
            _, usage = measure_usage(server, redis, lambda: wrk(port, args, args.warmup))
            if balanced(usage):
                return server
        raise SystemExit(f"bench: {label}: a worker still serves almost nothing after 5 warm-ups "
                         f"(CPU shares {format_shares(usage)})")
    except BaseException:
        stop(process)
        raise


def balanced(usage: Usage) -> bool:
    return min(usage.worker_shares()) >= MIN_WORKER_SHARE / len(usage.per_worker)


def settle(server: Server, timeout: float = 10) -> None:
    """Waits until no worker is busy: requests of a run that ended are done."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all_idle(server.workers, 0.3):
            return
    raise SystemExit(f"bench: {server.label}: still busy {timeout:.0f}s after the load stopped")


def saturate(server: Server, redis: Redis, args) -> tuple[WrkResult, Usage]:
    """A wrk run from a count of 0; run again (3 runs at most) when a worker
    served too little: keep-alive connections stay with the worker that
    accepted them, and a worker the kernel did not schedule during wrk's
    burst of connects gets none."""
    for attempt in range(1, 4):
        settle(server)
        redis.reset()
        result, usage = measure_usage(server, redis, lambda: wrk(server.port, args, args.duration))
        settle(server)
        if balanced(usage):
            break
        print(f"bench: {server.label}: workers' CPU shares {format_shares(usage)} in run {attempt}",
              file=sys.stderr)
    return result, usage


def at_fixed_rate(server: Server, redis: Redis, rate: int, args,
                  workdir: Path) -> tuple[RateResult, Usage, int, float]:
    """A vegeta run, the CPU used during it, the visits Redis counted during
    it, and the host probe taken just before it; run again (3 runs at most)
    when vegeta fell behind its schedule: the rate measured is then not the
    rate asked for (a short run on a busy machine can lose a few tenths of a
    second to the scheduler)."""
    for attempt in range(1, 4):
        settle(server)
        probe_ms = host_probe_ms()
        before = redis.count()
        result, usage = measure_usage(server, redis, lambda: vegeta(server.port, rate, args.rate_duration, workdir))
        added = redis.count() - before
        if result.kept >= MIN_RATE_KEPT:
            break
        print(f"bench: {server.label}: vegeta sent {result.kept:.1%} of {rate} req/s in run {attempt}",
              file=sys.stderr)
    return result, usage, added, probe_ms


def wait_for_workers(process: subprocess.Popen, expected: int, timeout: float = 60) -> list[int]:
    """The worker pids, once there are EXPECTED of them and all sit idle
    (start-up, imports included, is over). EXPECTED 0: the process serves itself."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        workers = children(process.pid) if expected else [process.pid]
        if len(workers) == max(expected, 1):
            if all_idle(workers, 0.5):
                return workers
        else:
            time.sleep(0.1)
    raise SystemExit(f"bench: {expected} workers did not start and settle within {timeout:.0f}s")


def format_shares(usage: Usage) -> str:
    return " / ".join(f"{share:.0%}" for share in usage.worker_shares())


@dataclass
class Measured:
    key: str
    label: str
    saturation: WrkResult
    usage: Usage
    fixed_rate: RateResult | None = None
    rate_usage: Usage | None = None  # the CPU used during the fixed-rate run
    probe_ms: float | None = None  # the host probe just before the fixed-rate run


def contenders(shipped: Settings):
    gunicorn = [sys.executable, "-m", "gunicorn", "-k", "gthread", "-w", str(shipped.workers),
                "--threads", str(shipped.threads), "--keep-alive", str(shipped.keepalive),
                "--no-control-socket",
                # An empty config file: gunicorn would otherwise load ./gunicorn.conf.py.
                "-c", os.devnull, "-b"]
    threads = f"gthread {shipped.workers}x{shipped.threads}"
    return {
        "c": (f"floor: bare WSGI, {threads}", lambda port: [*gunicorn, f"127.0.0.1:{port}", "bench.floor_app:app"],
              shipped.workers),
        "b": (f"seed, {threads}", lambda port: [*gunicorn, f"127.0.0.1:{port}", "bench.seed_app:app"],
              shipped.workers),
        "d": ("friendlyhello, gunicorn.conf.py",
              lambda port: [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"], shipped.workers),
        "a": ("seed, Flask dev server", lambda port: [sys.executable, "bench/seed_app.py"], 0),
    }


def launch(key, spec, env, redis, args, workdir: Path) -> Server:
    label, command, workers = spec
    port = free_port()
    log = workdir / f"{key}-{port}.log"
    return start(f"({key}) {label}", port, command(port), env, workers, redis, args, log)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds of (c), (b) and (d)")
    parser.add_argument("--duration", type=float, default=10, help="seconds of each wrk run")
    parser.add_argument("--rate-duration", type=float, default=10, help="seconds of each fixed-rate run")
    parser.add_argument("--warmup", type=float, default=2, help="seconds of each warm-up round")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--outage-duration", type=float, default=6)
    parser.add_argument("--profile", type=Path, metavar="DIR", help="also profile (d) with py-spy into DIR")
    parser.add_argument("--sweep", action="store_true", help="compare gunicorn worker/thread counts")
    parser.add_argument("--strict", action="store_true",
                        help="exit 1 when a speed target is missed too")
    args = parser.parse_args()
    for program in ("wrk", "redis-server", "redis-cli", VEGETA):
        if shutil.which(program) is None:
            raise SystemExit(f"bench: {program} is not installed (make bench installs what it needs)")
    if args.profile and not PY_SPY.exists():
        raise SystemExit(f"bench: {PY_SPY} is not installed (make venv)")

    shipped = Settings()
    workdir = Path(tempfile.mkdtemp(prefix="friendlyhello-bench-"))
    redis = Redis(workdir)
    env = {"REDIS_HOST": "127.0.0.1", "REDIS_PORT": str(redis.port), "SHUTDOWN_DELAY": "0",
           "PROMETHEUS_MULTIPROC_DIR": str(workdir / "metrics"),
           # (d) reads these; the others get the same values on their command line.
           "WEB_CONCURRENCY": str(shipped.workers), "GUNICORN_THREADS": str(shipped.threads),
           "KEEPALIVE": str(shipped.keepalive)}
    try:
        if args.sweep:
            return sweep(args, env, redis, workdir)
        return compare(args, env, redis, shipped, workdir)
    finally:
        redis.stop()
        shutil.rmtree(workdir, ignore_errors=True)


ROUND_ORDER = ("c", "b", "d")


def round_order(number: int) -> list[str]:
    """The contenders of round NUMBER (from 0), each round starting one later."""
    shift = number % len(ROUND_ORDER)
    return [*ROUND_ORDER[shift:], *ROUND_ORDER[:shift]]


# measure()'s fixed rate for the floor of the first round: FIXED_RATE_SHARE of what it reached.
FROM_THIS_RUN = -1


def measure(key: str, specs: dict, env: dict, redis: Redis, args, workdir: Path, fixed_rate: int | None,
            checks: list, profile_it: bool = False) -> Measured:
    """One contender, started fresh: saturation, then the run at FIXED_RATE
    (none when None)."""
    server = launch(key, specs[key], env, redis, args, workdir)
    try:
        result, usage = saturate(server, redis, args)
        measured = Measured(key, server.label, result, usage)
        if key == "d":
            counted = redis.count()
            ok = result.completed - result.non_2xx
            # wrk stops mid-flight: requests sent but never read may have counted too.
            checks.append((f"(d) Redis counter {counted} vs 200s {ok} under wrk",
                           ok <= counted <= ok + args.connections, "200s <= counter <= 200s + connections"))
        if fixed_rate == FROM_THIS_RUN:
            fixed_rate = max(1, int(result.requests_per_second * FIXED_RATE_SHARE))
        if fixed_rate is not None:
            measured.fixed_rate, measured.rate_usage, added, measured.probe_ms = at_fixed_rate(
                server, redis, fixed_rate, args, workdir)
            if key == "d":
                checks.append((f"(d) Redis counter +{added} vs 200s {measured.fixed_rate.ok} at the fixed rate",
                               added == measured.fixed_rate.ok, "equal"))
        if profile_it:
            profile(server, args)
        checks.append(worker_check(server))
        return measured
    finally:
        stop(server.process)


def worker_check(server: Server) -> tuple[str, bool, str]:
    """Every worker that started still serves; where one does not, what the
    server printed about it (the reason of a failed run, printed with it)."""
    replaced = server.replaced_workers()
    text = f"{server.label.split()[0]} workers replaced while it ran: {len(replaced)}"
    printed = server.error_lines() if replaced else []
    if printed:
        text += "; it printed: " + " | ".join(printed)
    return text, not replaced, "none"


def compare(args, env, redis: Redis, shipped: Settings, workdir: Path) -> int:
    specs = contenders(shipped)
    checks: list[tuple[str, bool, str]] = []  # correctness and method: always fail the run
    rounds: list[dict[str, Measured]] = []
    fixed_rate = FROM_THIS_RUN  # the first round starts with the floor, which sets it
    for number in range(args.rounds):
        measured: dict[str, Measured] = {}
        for key in round_order(number):
            measured[key] = measure(key, specs, env, redis, args, workdir, fixed_rate, checks,
                                    profile_it=bool(args.profile) and key == "d" and number == 0)
            fixed_rate = measured["c"].fixed_rate.rate if "c" in measured else fixed_rate
        print(f"bench: round {number + 1} of {args.rounds} done", file=sys.stderr)
        rounds.append(measured)
    seed_dev = measure("a", specs, env, redis, args, workdir, None, checks)

    server = launch("d", specs["d"], env, redis, args, workdir)
    try:
        frozen = run_with_redis_frozen(server, redis, args)
        checks.append(worker_check(server))
    finally:
        stop(server.process)

    report(args, rounds, seed_dev, frozen)
    for measured in [*rounds, {"a": seed_dev}]:
        checks += method_checks(measured)
    checks.append((f"(d) Redis frozen: {frozen.non_2xx} not 200, {frozen.socket_errors} socket errors",
                   frozen.non_2xx + frozen.socket_errors == 0, "every answer 200"))
    speed = speed_checks(rounds)
    for text, passed, target in speed + checks:
        print(f"  {'ok  ' if passed else 'MISS'}  {text:66} target {target}")
    failed = [text for text, passed, _ in checks + (speed if args.strict else []) if not passed]
    return 1 if failed else 0


def run_with_redis_frozen(server: Server, redis: Redis, args) -> WrkResult:
    """wrk against (d) with Redis stopped by SIGSTOP from its first second on:
    connections stay open and nothing answers, the worst kind of outage."""
    process = subprocess.Popen(wrk_command(server.port, args, args.outage_duration), stdout=subprocess.PIPE,
                               text=True)
    time.sleep(1)
    os.kill(redis.process.pid, signal.SIGSTOP)
    try:
        output, _ = process.communicate(timeout=args.outage_duration + 60)
    except subprocess.TimeoutExpired:
        process.kill()
        raise
    finally:
        os.kill(redis.process.pid, signal.SIGCONT)
    if process.returncode != 0:
        raise SystemExit(f"bench: wrk exited {process.returncode} while Redis was frozen")
    return parse_wrk(output)


def profile(server: Server, args) -> None:
    """py-spy samples one worker of (d) under wrk's load, twice in a row: a
    flame graph, then raw stacks, summed by part (PROFILE_PARTS) and by
    function. Only the thread holding the GIL is sampled: where the worker's
    CPU goes, not where its threads wait."""
    args.profile.mkdir(parents=True, exist_ok=True)
    outputs = {"flamegraph": args.profile / "service.svg", "raw": args.profile / "service.txt"}
    seconds = max(1, round(args.duration))
    command = [str(PY_SPY), "record", "--pid", str(server.workers[0]), "--rate", "250", "--duration", str(seconds),
               "--nonblocking", "--gil"]
    # wrk covers both recordings, one after the other (two at once may not
    # both attach), from before the first attaches to after the second stops.
    load = subprocess.Popen(wrk_command(server.port, args, 2 * seconds + 4), stdout=subprocess.DEVNULL)
    try:
        time.sleep(1)
        for kind, path in outputs.items():
            spy = subprocess.run([*command, "--format", kind, "--output", str(path)], capture_output=True,
                                 text=True, timeout=seconds + 60)
            if spy.returncode != 0:
                raise SystemExit(f"bench: py-spy failed ({spy.returncode}): {spy.stderr.strip()[-500:]}")
    except BaseException:
        load.kill()
        raise
    finally:
        load.wait(timeout=2 * seconds + 60)
    stacks = raw_stacks(outputs["raw"])
    total = sum(count for _, count in stacks)
    if not total:
        raise SystemExit(f"bench: py-spy recorded no sample of worker {server.workers[0]}")
    inclusive, own = collections.Counter(), collections.Counter()
    for stack, count in stacks:
        # "function (file:line)" without the line: one entry per function.
        frames = [re.sub(r":\d+\)$", ")", frame) for frame in stack.split(";")]
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    print(f"\nprofile of one (d) worker under wrk ({total} samples; flame graph {outputs['flamegraph']}), by part:")
    for part, share in profile_parts(stacks, total):
        print(f"  {share:5.0%}  {part}")
    print("and by function (in: the samples it appears in, own: those where it runs itself):")
    print(f"  {'in':>5} {'own':>5}  function")
    for frame, count in inclusive.most_common(20):
        print(f"  {count / total:5.0%} {own[frame] / total:5.0%}  {frame}")


# The parts of a worker's time, by the first match in its stack: the most
# specific first, so that the page's own time excludes the Redis calls it makes.
PROFILE_PARTS = [
    ("metrics (app/metrics.py, prometheus-client)", ("metrics.py", "prometheus_client")),
    ("access log (app/logs.py, logging)", ("app/logs.py", "logging/")),
    ("Redis client (redis-py)", ("redis/",)),
    ("the page and the counter (app/views.py, app/counter.py)", ("app/views.py", "app/counter.py")),
    ("the edge: request ids, headers (app/edge.py)", ("app/edge.py",)),
    ("Flask (requests the edge leaves to it)", ("flask/", "werkzeug/")),
    ("gunicorn: parsing the request", ("gunicorn/http/message.py", "gunicorn/http/parser.py")),
    ("gunicorn: environ and response", ("gunicorn/http/wsgi.py",)),
    ("gunicorn: accepting, polling, thread pool", ("gunicorn/", "concurrent/futures")),
]


def raw_stacks(raw: Path) -> list[tuple[str, int]]:
    """py-spy's raw output: each stack ("frame;frame;...") with its sample count."""
    return [(stack, int(count)) for stack, _, count in
            (line.rpartition(" ") for line in raw.read_text().splitlines())]


def profile_parts(stacks: list[tuple[str, int]], total: int) -> list[tuple[str, float]]:
    counts = collections.Counter()
    for stack, count in stacks:
        part = next((name for name, patterns in PROFILE_PARTS if any(p in stack for p in patterns)), "other")
        counts[part] += count
    return [(part, count / total) for part, count in counts.most_common()]


def spread(values: list[float]) -> tuple[float, float, float]:
    """Median, lowest and highest."""
    ordered = sorted(values)
    middle = len(ordered) // 2
    median = ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2
    return median, ordered[0], ordered[-1]


def format_spread(values: list[float], digits: int = 0, unit: str = "") -> str:
    median, low, high = spread(values)
    if len(values) == 1:
        return f"{median:.{digits}f}{unit}"
    return f"{median:.{digits}f}{unit} ({low:.{digits}f}-{high:.{digits}f})"


def ratios(rounds: list[dict[str, Measured]]) -> dict[str, list[float]]:
    """The targets' ratios, each taken within a round."""
    found = {f"(d)/({key}) requests/s": [r["d"].saturation.requests_per_second / r[key].saturation.requests_per_second
                                         for r in rounds] for key in THROUGHPUT_TARGETS}
    found["(d)/(c) p99 at the fixed rate"] = [r["d"].fixed_rate.p99_ms / r["c"].fixed_rate.p99_ms for r in rounds]
    return found


def usage_line(label: str, usage: Usage) -> str:
    idle = 1 - usage.share_of_cores(usage.generator + usage.server + usage.redis + usage.stolen)
    return (f"{label:44} {usage.share_of_cores(usage.generator):6.0%} {usage.share_of_cores(usage.server):7.0%} "
            f"{usage.share_of_cores(usage.redis):6.0%} {usage.share_of_cores(usage.stolen):6.0%} "
            f"{max(idle, 0):6.0%}   {format_shares(usage)}")


def report(args, rounds: list[dict[str, Measured]], seed_dev: Measured, frozen: WrkResult) -> None:
    fixed_rate = rounds[0]["c"].fixed_rate.rate
    print(f"\nSaturation: wrk -t{args.threads} -c{args.connections} -d{args.duration:g}s. Fixed rate: vegeta "
          f"at {fixed_rate} req/s ({FIXED_RATE_SHARE:.0%} of the floor's capacity in round 1) for "
          f"{args.rate_duration:g}s. On loopback, {CORES} cores shared by the load generator, the server and "
          f"Redis. {len(rounds)} rounds, each in another order.")
    for number, measured in enumerate(rounds, 1):
        print(f"\nround {number} {'':36} {'---------- saturation ----------':>34}   "
              f"{'----------- fixed rate -----------':>36}")
        print(f"{'':44} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}   {'answered':>9} {'p50 ms':>8} "
              f"{'p99 ms':>8} {'p99.9 ms':>8} {'probe ms':>8}")
        for item in measured.values():
            run, rate = item.saturation, item.fixed_rate
            print(f"{item.label:44} {run.requests_per_second:8.0f} {run.p50_ms:8.2f} {run.p99_ms:8.2f} "
                  f"{run.non_2xx + run.socket_errors:7d}   {rate.answered:9.1%} {rate.p50_ms:8.2f} "
                  f"{rate.p99_ms:8.2f} {rate.p999_ms:8.2f} {item.probe_ms:8.1f}")
        print("where the CPU went (share of all cores), and each worker's part of the server's:")
        print(f"{'':44} {'load':>6} {'server':>7} {'redis':>6} {'stolen':>6} {'idle':>6}   workers")
        for item in measured.values():
            print(usage_line(f"{item.label} (wrk)", item.usage))
            print(usage_line(f"{item.label} (vegeta)", item.rate_usage))

    print(f"\nOnce: {seed_dev.label} {seed_dev.saturation.requests_per_second:.0f} req/s; "
          f"(d) with Redis frozen (SIGSTOP) {frozen.requests_per_second:.0f} req/s, "
          f"p99 {frozen.p99_ms:.2f} ms, {frozen.non_2xx + frozen.socket_errors} errors.")
    print(f"\nMedian (lowest-highest) over {len(rounds)} rounds:")
    for key in ROUND_ORDER:
        label = rounds[0][key].label
        print(f"  {label:44} {format_spread([r[key].saturation.requests_per_second for r in rounds]):>18} req/s   "
              f"fixed-rate p99 {format_spread([r[key].fixed_rate.p99_ms for r in rounds], 2, ' ms')}")
    for name, values in ratios(rounds).items():
        print(f"  {name:44} {format_spread(values, 2, 'x'):>18}   rounds: "
              f"{', '.join(f'{value:.2f}' for value in values)}")
    d_over_a = [r["d"].saturation.requests_per_second / seed_dev.saturation.requests_per_second for r in rounds]
    print(f"  {'(d)/(a) requests/s':44} {format_spread(d_over_a, 2, 'x'):>18}")
    probes = [item.probe_ms for r in rounds for item in r.values()]
    print(f"  {'host probe before the fixed-rate runs':44} {format_spread(probes, 1, ' ms'):>18}   "
          f"slowest/fastest {max(probes) / min(probes):.2f}x")
    print()


def method_checks(measured: dict[str, Measured]) -> list[tuple[str, bool, str]]:
    """What must hold for the figures to mean anything, and answers that must be right."""
    checks = []
    for item in measured.values():
        workers = len(item.usage.per_worker)
        if workers > 1:
            floor = MIN_WORKER_SHARE / workers
            checks.append((f"({item.key}) workers' CPU shares {format_shares(item.usage)}",
                           balanced(item.usage), f"each >= {floor:.0%}"))
        checks.append((f"({item.key}) wrk CPU {item.usage.generator:.1f}s vs server {item.usage.server:.1f}s",
                       item.usage.generator < item.usage.server, "wrk < server"))
        if item.fixed_rate:
            rate = item.fixed_rate
            checks.append((f"({item.key}) vegeta sent {rate.kept:.1%} of {rate.rate} req/s",
                           rate.kept >= MIN_RATE_KEPT, f">= {MIN_RATE_KEPT:.0%}"))
            checks.append((f"({item.key}) fixed rate: {rate.sent - rate.ok} of {rate.sent} answers not 200",
                           rate.ok == rate.sent, "all 200"))
        checks.append((f"({item.key}) wrk: {item.saturation.non_2xx} not 200, {item.saturation.socket_errors} "
                       f"socket errors", item.saturation.non_2xx + item.saturation.socket_errors == 0, "none"))
    return checks


def speed_checks(rounds: list[dict[str, Measured]]) -> list[tuple[str, bool, str]]:
    """The targets, on the median of each ratio over the rounds."""
    checks = []
    found = ratios(rounds)
    for key, target in THROUGHPUT_TARGETS.items():
        median = spread(found[f"(d)/({key}) requests/s"])[0]
        checks.append((f"(d)/({key}) = {median:.2f}x requests/s (median)", median >= target, f">= {target}x"))
    median = spread(found["(d)/(c) p99 at the fixed rate"])[0]
    checks.append((f"(d) p99 at the fixed rate = {median:.2f}x (c)'s (median)", median <= FIXED_RATE_P99_TARGET,
                   f"<= {FIXED_RATE_P99_TARGET}x"))
    answered = min(r["d"].fixed_rate.answered for r in rounds)
    checks.append((f"(d) answered {answered:.1%} of the fixed rate (lowest)", answered >= MIN_RATE_KEPT,
                   f">= {MIN_RATE_KEPT:.0%}"))
    return checks


SWEEP = [("2", "1"), ("2", "4"), ("2", "8"), ("2", "16"), ("3", "4"), ("4", "2")]


def sweep(args, env, redis: Redis, workdir: Path) -> int:
    print(f"{'workers x threads':20} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8}   workers' CPU shares")
    for workers, threads in SWEEP:
        label, command, _ = contenders(Settings())["d"]
        server = launch("d", (label, command, int(workers)),
                        {**env, "WEB_CONCURRENCY": workers, "GUNICORN_THREADS": threads}, redis, args, workdir)
        try:
            result, usage = measure_usage(server, redis, lambda port=server.port: wrk(port, args, args.duration))
        finally:
            stop(server.process)
        print(f"{workers + ' x ' + threads:20} {result.requests_per_second:9.0f} {result.p50_ms:8.2f} "
              f"{result.p99_ms:8.2f}   {format_shares(usage)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
