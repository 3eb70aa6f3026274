"""What the tests share, each written once: the repository's pins and
tools, the commands they run (helm, docker), real servers (redis-server,
gunicorn) and the waits and readings around them.

A test whose prerequisite (a program, a Docker engine, a cluster) is missing
is skipped on a workstation but fails with the reason under CI=true, so CI
can never pass by skipping.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

ROOT = Path(__file__).resolve().parent.parent
CHART = ROOT / "chart"
TOOLS = ROOT / ".tools" / "bin"
# What the page shows, as the tests read it.
VISITS = re.compile(r"<b>Visits:</b> (\d+)")
HOSTNAME = re.compile(r"<b>Hostname:</b> ([^<]+)<br/>")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def env_file(path: str) -> dict[str, str]:
    """The KEY=value lines of a file of the repository (hack/versions.env, ...)."""
    lines = (ROOT / path).read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


PINNED = env_file("hack/versions.env")
STANDINS = env_file("hack/airgap/standins.env")


def missing_prerequisite(reason: str):
    """Skip locally; fail loudly in CI, where every test must run."""
    if IN_CI:
        pytest.fail(f"prerequisite missing in CI: {reason}", pytrace=False)
    pytest.skip(reason)


def require_program(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        missing_prerequisite(f"{name} is not installed (make deps installs it)")
    return path


def tool(name: str) -> str:
    """A pinned tool in .tools/ (Helm 3, skaffold's, beside the others). One
    not there yet is made by hack/tools.sh, which waits for a build of it
    under way: make test builds the cluster suite's last tools beside it."""
    path = ROOT / ".tools/helm3/helm" if name == "helm3" else TOOLS / name
    if not path.exists():
        result = subprocess.run([str(ROOT / "hack/tools.sh"), name], capture_output=True, text=True, timeout=3600)
        if result.returncode != 0 or not path.exists():
            missing_prerequisite(f"{name} is not in .tools/ and hack/tools.sh {name} could not make it:"
                                 f" {result.stderr.strip()[-2000:]}")
    return str(path)


def tool_source(name: str) -> str:
    """Where hack/tools.sh took a tool from: "built vX.Y.Z", or the path and version of yours."""
    tool(name)
    return (TOOLS / f".{name}.source").read_text().strip()


def run(*command: str, timeout: float = 600, check: bool = True, env: dict | None = None,
        cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """COMMAND with the pinned tools first on PATH; its output in the error when CHECK fails."""
    full_env = {**os.environ, **(env or {})}
    full_env["PATH"] = f"{TOOLS}:{full_env['PATH']}"
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=full_env, cwd=cwd)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def helm(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return run(tool("helm"), *args, **kwargs)


def docker(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
    return run("docker", *args, check=check, timeout=timeout)


def docker_answers() -> bool:
    return shutil.which("docker") is not None and docker("info", check=False, timeout=30).returncode == 0


def free_port() -> int:
    return free_ports(1)


def free_ports(count: int) -> int:
    """The first of COUNT consecutive ports that are free on every address
    now (a port range such as compose's "8080-8081" takes them in a row)."""
    while True:
        with contextlib.ExitStack() as held:
            first = held.enter_context(socket.socket())
            first.bind(("", 0))
            port = first.getsockname()[1]
            try:
                for following in range(port + 1, port + count):
                    held.enter_context(socket.socket()).bind(("", following))
            except (OSError, OverflowError):  # taken, or past the last port: another try
                continue
            return port


def raw_request(port: int, payload: bytes) -> int | None:
    """The status of the reply, or None when the server closed without one."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(payload)
        reply = b""
        while b"\r\n" not in reply:
            chunk = sock.recv(4096)
            if not chunk:
                break
            reply += chunk
    return int(reply.split(b" ", 2)[1]) if reply else None


def wait_until(predicate, timeout: float, interval: float = 0.02, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")


def metric(text: str, name: str, **labels) -> float:
    """The value of one series in a Prometheus exposition TEXT."""
    wanted = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    series = f"{name}{{{wanted}}}" if labels else name
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{series} not in metrics:\n{text}")


def dashboard_queries(namespace: str, service: str, rate_interval: str = "1m") -> list[str]:
    """Every query of the chart's Grafana dashboard, its variables filled in
    as Grafana would fill them for the release SERVICE in NAMESPACE."""
    dashboard = json.loads((CHART / "files/dashboard.json").read_text())
    return [target["expr"].replace("$namespace", namespace).replace("$service", service)
            .replace("$__rate_interval", rate_interval)
            for panel in dashboard["panels"] for target in panel.get("targets", [])]


def dashboard_variables() -> dict[str, str]:
    """The dashboard's query variables: name -> its label_values(...) query."""
    dashboard = json.loads((CHART / "files/dashboard.json").read_text())
    return {variable["name"]: variable["query"]["query"] for variable in dashboard["templating"]["list"]
            if variable["type"] == "query"}


def visit_count(url: str) -> int | None:
    """The count a visit to URL's page shows; None while it does not answer with one."""
    import requests

    try:
        page = requests.get(url + "/", timeout=5)
    except requests.RequestException:
        return None
    found = VISITS.search(page.text) if page.status_code == 200 else None
    return int(found.group(1)) if found else None


class Certificates:
    """A certificate authority of the test's own (openssl), and a server's key
    and certificate it signed for NAMES (DNS names in subjectAltName)."""

    def __init__(self, directory: Path, names: list[str], days: int = 2):
        openssl = require_program("openssl")
        directory.mkdir(parents=True, exist_ok=True)
        self.ca = directory / "ca.crt"
        self.key = directory / "server.key"
        self.cert = directory / "server.crt"
        ca_key, request = directory / "ca.key", directory / "server.csr"
        extensions = directory / "server.ext"
        # The extensions strict verification asks for (Python 3.13's default
        # context, the image's, sets VERIFY_X509_STRICT).
        extensions.write_text("subjectAltName=" + ",".join(f"DNS:{name}" for name in names) + "\n"
                              "authorityKeyIdentifier=keyid,issuer\nsubjectKeyIdentifier=hash\n"
                              "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
                              "basicConstraints=critical,CA:FALSE\n")

        def run_openssl(*args: str) -> None:
            result = subprocess.run([openssl, *args], capture_output=True, text=True, timeout=60)
            assert result.returncode == 0, f"openssl {args[0]}: {result.stdout}{result.stderr}"

        run_openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", str(ca_key), "-out", str(self.ca), "-days", str(days), "-subj", "/CN=test CA",
                    "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        run_openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", str(self.key), "-out", str(request), "-subj", f"/CN={names[0]}")
        run_openssl("x509", "-req", "-in", str(request), "-CA", str(self.ca), "-CAkey", str(ca_key),
                    "-CAcreateserial", "-out", str(self.cert), "-days", str(days), "-extfile", str(extensions))
        run_openssl("verify", "-x509_strict", "-CAfile", str(self.ca), str(self.cert))


class RedisServer:
    """A real redis-server on a free loopback port, which a test may stop and
    restart. With TLS it listens for TLS only; with USER (name, password) the
    default user is off and only that ACL user may connect."""

    def __init__(self, workdir: Path, password: str | None = None, tls: Certificates | None = None,
                 user: tuple[str, str] | None = None):
        self.binary = require_program("redis-server")
        self.port = free_port()
        self.password = password
        self.tls = tls
        self.user = user
        self.workdir = workdir
        self.process: subprocess.Popen | None = None

    def start(self) -> RedisServer:
        listen = ["--port", "0", "--tls-port", str(self.port)] if self.tls else ["--port", str(self.port)]
        args = [self.binary, *listen, "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no", "--dir", str(self.workdir)]
        if self.tls:
            args += ["--tls-cert-file", str(self.tls.cert), "--tls-key-file", str(self.tls.key),
                     "--tls-ca-cert-file", str(self.tls.ca), "--tls-auth-clients", "no"]
        if self.user:
            name, secret = self.user
            args += ["--user", "default", "off", "--user", name, "on", f">{secret}", "~*", "&*", "+@all"]
        if self.password:
            args += ["--requirepass", self.password]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        wait_until(self._answers, timeout=10, message=f"redis-server on port {self.port}")
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None

    def freeze(self) -> None:
        """Stops the process without closing its socket: connections are still
        accepted by the kernel, and every command waits (a hung or partitioned
        Redis, unlike a stopped one, which refuses at once)."""
        os.kill(self.process.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        os.kill(self.process.pid, signal.SIGCONT)

    def client(self) -> redis.Redis:
        username, password = self.user or (None, self.password)
        tls = {"ssl": True, "ssl_ca_certs": str(self.tls.ca)} if self.tls else {}
        return redis.Redis(host="localhost" if self.tls else "127.0.0.1", port=self.port, username=username,
                           password=password, socket_timeout=5, **tls)

    def _answers(self) -> bool:
        try:
            return bool(self.client().ping())
        except redis.RedisError:
            return False


def ends_at_its_checksum(snapshot: bytes) -> bool:
    """An RDB file ends with its EOF opcode (0xFF) and an 8-byte checksum:
    nothing after it (a diskless transfer's end marker) that Redis would refuse."""
    return snapshot[-9] == 0xFF


def settings_for(server: RedisServer, **overrides):
    """The app's Settings for SERVER (a real redis-server), with OVERRIDES."""
    from app.config import Settings

    return Settings(redis_host="127.0.0.1", redis_port=server.port, **overrides)


class Gunicorn:
    """The real server: `gunicorn -c gunicorn.conf.py`, as the image runs it."""

    def __init__(self, env: dict[str, str], log_path: Path, cwd: Path = ROOT):
        self.cwd = cwd
        self.port = free_port()
        self.env = {**os.environ, **env, "PORT": str(self.port)}
        self.log_path = log_path
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self) -> Gunicorn:
        import requests

        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"],
            cwd=self.cwd, env=self.env, stdout=self._log, stderr=subprocess.STDOUT)

        def ready():
            if self.process.poll() is not None:
                raise AssertionError(f"gunicorn exited {self.process.returncode}:\n{self.log()}")
            try:
                return requests.get(self.url + "/readyz", timeout=1).status_code == 200
            except requests.ConnectionError:
                return False

        wait_until(ready, timeout=20, interval=0.05, message="gunicorn to serve /readyz")
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def log_entries(self) -> list[dict]:
        """The JSON lines of the log."""
        return [json.loads(line) for line in self.log().splitlines() if line.startswith("{")]

    def stop(self) -> int:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=60)
        self._log.close()
        return self.process.returncode
