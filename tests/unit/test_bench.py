"""The benchmark (bench/run.py) works: short runs of every contender, the
profile included, and its checks of method and correctness pass. Speed is
not judged here (a missed target is printed, not failed, without --strict)."""

import logging
import re
import sys

from app.logs import JsonFormatter
from bench.run import reports_error
from tests.support import require_program, run


def test_a_short_run_passes_its_checks_of_method_and_correctness(tmp_path):
    for program in ("wrk", "redis-server"):
        require_program(program)
    profile = tmp_path / "profile"
    result = run(sys.executable, "bench/run.py", "--rounds", "1", "--duration", "3", "--rate-duration", "3",
                 "--warmup", "1", "--outage-duration", "3", "--profile", str(profile), timeout=900, check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert re.search(r"^\s+ok\s+\(d\) Redis counter .* under wrk ", output, re.M), output[-3000:]
    # The checks of method ran, for the three contenders with several workers.
    assert len(re.findall(r"^\s+ok\s+\(\w\) workers' CPU shares", output, re.M)) == 3, output[-3000:]
    assert len(re.findall(r"^\s+ok\s+\(\w\) vegeta sent", output, re.M)) == 3, output[-3000:]
    assert re.search(r"^\s+ok\s+\(d\) Redis frozen: 0 not 200", output, re.M), output[-3000:]
    assert (profile / "service.svg").stat().st_size > 0 and "by part:" in output
    # The host probe is reported: its median and spread over the fixed-rate runs.
    probes = re.search(r"host probe before the fixed-rate runs\s+([\d.]+) ms \(([\d.]+)-([\d.]+)\)", output)
    assert probes and 0 < float(probes.group(2)) <= float(probes.group(3)), output[-3000:]


def test_the_error_lines_of_the_service_and_of_gunicorn_are_found():
    def line(level: int) -> str:
        return JsonFormatter().format(logging.LogRecord("gunicorn.error", level, __file__, 1, "a line", None, None))

    assert reports_error(line(logging.ERROR)) and reports_error(line(logging.CRITICAL))
    assert not reports_error(line(logging.WARNING))
    assert reports_error("[2026-12-07 08:00:00 +0000] [7] [ERROR] Exception in worker process")
    assert not reports_error("[2026-12-07 08:00:00 +0000] [7] [INFO] Booting worker with pid: 8")
