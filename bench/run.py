"""Benchmark: this service against the seed and a bare-WSGI floor, in one run.

usage: python bench/run.py [--duration S] [--connections N] [--outage-duration S] [--sweep]

Runs wrk on loopback against, one after the other:
  (a) the seed app on Flask's development server, as the seed runs it;
  (b) the seed app under gunicorn with this project's worker settings;
  (c) a bare WSGI callable with the same page and Redis INCR, same settings;
  (d) this service under its shipped gunicorn.conf.py;
then (d) again with Redis stopped. Prints requests/s, p50, p99 and the
ratios of (d) to the others, checks the targets and exits 1 on a miss.
--sweep instead runs (d) with several worker/thread counts, the measurement
behind gunicorn.conf.py's defaults.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.config import Settings  # noqa: E402

TARGETS = {"c": 0.9, "b": 1.3, "a": 4.0}
P99_TARGET_MS = 25.0
OUTAGE_P99_TARGET_MS = 50.0


@dataclass
class Result:
    label: str
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    sent: int
    ok: int
    non_2xx: int


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


def to_ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def run_wrk(label: str, port: int, args) -> Result:
    command = ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{args.duration}s",
               "--latency", "-s", str(ROOT / "bench" / "count.lua"), f"http://127.0.0.1:{port}/"]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    percentile = dict(re.findall(r"^\s+(50|99)\.000%\s+(\S+)", output, re.M)) or \
        dict(re.findall(r"^\s+(50|99)%\s+(\S+)", output, re.M))
    counts = re.search(r"COUNTS sent=(\d+) ok=(\d+)", output)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return Result(label, float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
                  to_ms(percentile["50"]), to_ms(percentile["99"]),
                  int(counts.group(1)), int(counts.group(2)),
                  int(non_2xx.group(1)) if non_2xx else 0)


class Redis:
    def __init__(self, workdir: Path):
        self.port = free_port()
        self.workdir = workdir
        self.process = None

    def start(self):
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL)
        wait_for_port(self.port, self.process)

    def stop(self):
        self.process.terminate()
        self.process.wait()

    def cli(self, *command: str) -> str:
        return subprocess.run(["redis-cli", "-p", str(self.port), *command],
                              capture_output=True, text=True, check=True).stdout.strip()


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--outage-duration", type=int, default=5)
    parser.add_argument("--sweep", action="store_true", help="compare gunicorn worker/thread counts")
    parser.add_argument("--strict", action="store_true",
                        help="exit 1 when a speed target is missed too (by default only when a check of "
                             "correctness fails: a lost visit, an error while Redis is away)")
    args = parser.parse_args()
    for program in ("wrk", "redis-server", "redis-cli"):
        if shutil.which(program) is None:
            raise SystemExit(f"bench: {program} is not installed (apt-get install wrk redis-server)")

    shipped = Settings()
    gunicorn = [sys.executable, "-m", "gunicorn", "-k", "gthread", "-w", str(shipped.workers),
                "--threads", str(shipped.threads), "--no-control-socket",
                # An empty config file: gunicorn would otherwise load ./gunicorn.conf.py.
                "-c", os.devnull, "-b"]
    workdir = Path(tempfile.mkdtemp(prefix="friendlyhello-bench-"))
    redis = Redis(workdir)
    redis.start()
    env = {"REDIS_HOST": "127.0.0.1", "REDIS_PORT": str(redis.port), "SHUTDOWN_DELAY": "0",
           "PROMETHEUS_MULTIPROC_DIR": str(workdir / "metrics")}
    contenders = {
        "a": ("seed, Flask dev server", lambda port: [sys.executable, "bench/seed_app.py"]),
        "b": (f"seed, gunicorn gthread {shipped.workers}x{shipped.threads}",
              lambda port: [*gunicorn, f"127.0.0.1:{port}", "bench.seed_app:app"]),
        "c": (f"bare WSGI, gunicorn gthread {shipped.workers}x{shipped.threads}",
              lambda port: [*gunicorn, f"127.0.0.1:{port}", "bench.floor_app:app"]),
        "d": ("friendlyhello, gunicorn.conf.py",
              lambda port: [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"]),
    }
    if args.sweep:
        try:
            return sweep(args, env)
        finally:
            redis.stop()
            shutil.rmtree(workdir, ignore_errors=True)
    results: dict[str, Result] = {}
    counted = None
    try:
        for key, (label, command) in contenders.items():
            redis.cli("DEL", "counter")
            port, process = serve_with(command, env)
            try:
                results[key] = run_wrk(f"({key}) {label}", port, args)
            finally:
                stop(process)
            if key == "d":
                counted = int(redis.cli("GET", "counter") or 0)
        redis.stop()
        port, process = serve_with(contenders["d"][1], env)
        try:
            outage = run_wrk("(d) with Redis stopped", port,
                             argparse.Namespace(**{**vars(args), "duration": args.outage_duration}))
        finally:
            stop(process)
    finally:
        if redis.process.poll() is None:
            redis.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    print(f"\nwrk -t{args.threads} -c{args.connections} -d{args.duration}s on loopback, "
          f"{os.cpu_count()} cores shared by wrk, Redis and the server\n")
    print(f"{'':52} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8}")
    for result in [*results.values(), outage]:
        print(f"{result.label:52} {result.requests_per_second:9.0f} {result.p50_ms:8.2f} "
              f"{result.p99_ms:8.2f} {result.non_2xx:8d}")
    d = results["d"]
    speed, correctness = [], []
    print()
    for key, target in TARGETS.items():
        ratio = d.requests_per_second / results[key].requests_per_second
        speed.append((f"(d)/({key}) = {ratio:.2f}x", ratio >= target, f">= {target}x"))
    speed.append((f"(d) p99 = {d.p99_ms:.2f} ms", d.p99_ms <= P99_TARGET_MS, f"<= {P99_TARGET_MS} ms"))
    speed.append((f"(d) p99 with Redis stopped = {outage.p99_ms:.2f} ms", outage.p99_ms <= OUTAGE_P99_TARGET_MS,
                  f"<= {OUTAGE_P99_TARGET_MS} ms"))
    correctness.append((f"(d) with Redis stopped: {outage.non_2xx} answers not 200", outage.non_2xx == 0,
                        "all 200"))
    # wrk stops mid-flight: requests it sent but never read may have counted too.
    correctness.append((f"(d) Redis counter {counted} vs 200 responses {d.ok} (sent {d.sent})",
                        d.ok <= counted <= d.sent, "200s <= counter <= sent: no visit lost"))
    for text, passed, target in speed + correctness:
        print(f"  {'ok  ' if passed else 'MISS'}  {text:58} target {target}")
    failed = [text for text, passed, _ in correctness + (speed if args.strict else []) if not passed]
    return 1 if failed else 0


SWEEP = [("2", "1"), ("2", "4"), ("2", "8"), ("2", "16"), ("3", "4"), ("4", "2")]


def sweep(args, env) -> int:
    print(f"{'workers x threads':20} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8}")
    for workers, threads in SWEEP:
        command = lambda port: [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"]  # noqa: E731
        port, process = serve_with(command, {**env, "WEB_CONCURRENCY": workers, "GUNICORN_THREADS": threads})
        try:
            result = run_wrk(f"{workers}x{threads}", port, args)
        finally:
            stop(process)
        print(f"{workers + ' x ' + threads:20} {result.requests_per_second:9.0f} {result.p50_ms:8.2f} "
              f"{result.p99_ms:8.2f}")
    return 0


def serve_with(command, env):
    port = free_port()
    process = subprocess.Popen(command(port), cwd=ROOT,
                               env={**os.environ, **env, "PORT": str(port)},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_port(port, process)
    return port, process


if __name__ == "__main__":
    sys.exit(main())
