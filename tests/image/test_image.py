"""The built image: runs as non-root on a read-only root, counts, degrades, drains."""

import io
import json
import os
import re
import subprocess
import tarfile
import threading
import time
from pathlib import Path

import requests

from tests.image.containers import elapsed, wait_redis
from tests.support import PINNED, ROOT, STANDINS, VISITS, docker, wait_until

SIZE_BUDGET = 80 * 1000 * 1000
# A PEM block with real content (ssl.py itself mentions the header).
PEM_CERTIFICATE = re.compile(rb"-----BEGIN CERTIFICATE-----\r?\n[A-Za-z0-9+/]{60}")


def app_version() -> str:
    return re.search(r'__version__ = "(.+)"', (ROOT / "app" / "__init__.py").read_text()).group(1)


def test_size_is_within_budget(image):
    size = int(docker("image", "inspect", "-f", "{{.Size}}", image).stdout)
    assert size <= SIZE_BUDGET, f"{image} is {size / 1e6:.1f} MB"


# What each Debian release's python3 is: the image runs Debian's.
DEBIAN_PYTHON = {"bookworm": "3.11", "trixie": "3.13"}


def test_the_image_runs_the_python_of_the_pinned_debian(image):
    suite = re.fullmatch(r"debian:(\w+)-slim", PINNED["BASE_IMAGE"]).group(1)
    assert STANDINS["DEBIAN_SUITE"] == suite, "the local stand-in is the same Debian release"
    version = docker("run", "--rm", "--entrypoint", "python", image, "--version").stdout
    assert version.startswith(f"Python {DEBIAN_PYTHON[suite]}."), version


# Every Python file the server imports, and whether the image has its bytecode
# as Python checks it: this interpreter's magic number, the source's mtime and size.
PRECOMPILED = """
import importlib.util, json, os, sys
import gunicorn.app.wsgiapp, app
def compiled(source):
    cache = importlib.util.cache_from_source(source)
    if not os.path.exists(cache):
        return False
    with open(cache, "rb") as file:
        header = file.read(16)
    stat = os.stat(source)
    return (header[:4] == importlib.util.MAGIC_NUMBER
            and int.from_bytes(header[8:12], "little") == int(stat.st_mtime) & 0xFFFFFFFF
            and int.from_bytes(header[12:16], "little") == stat.st_size & 0xFFFFFFFF)
sources = {m.__file__ for m in list(sys.modules.values()) if (getattr(m, "__file__", None) or "").endswith(".py")}
print(json.dumps({source: compiled(source) for source in sources}))
"""


def test_every_module_the_server_imports_comes_compiled(image):
    """The root is read-only and nothing compiles at start: the image carries
    the bytecode of the standard library, the packages and the app."""
    found = json.loads(docker("run", "--rm", "--entrypoint", "python", image, "-c", PRECOMPILED).stdout)
    assert any(path.startswith("/usr/lib/python3") for path in found)
    assert any(path.startswith("/srv/app/app/") for path in found)
    assert [path for path, compiled in found.items() if not compiled] == []


def test_metadata(image):
    config = docker("image", "inspect", "-f", "{{json .Config}}", image).stdout
    import json

    config = json.loads(config)
    assert config["User"] == "10001:10001"
    assert "8080/tcp" in config["ExposedPorts"]
    assert "NAME=World" in config["Env"]
    assert config["Cmd"][:3] == ["python", "-m", "gunicorn"]
    assert config["Healthcheck"]["Test"][:2] == ["CMD", "python"], "no shell, no curl"
    labels = config["Labels"]
    assert labels["org.opencontainers.image.title"] == "friendlyhello"
    assert labels["org.opencontainers.image.version"] == app_version()
    assert labels["org.opencontainers.image.revision"]


# Debian's CA bundle, the one file of the image that holds certificates.
CA_BUNDLE = "etc/ssl/certs/ca-certificates.crt"
# Where a Debian or Ubuntu host keeps the CAs it added to its own bundle (an
# intercepting proxy's among them).
LOCAL_CAS = Path("/usr/local/share/ca-certificates")


def certificates(content: bytes) -> set[bytes]:
    """The certificates of a PEM file, each as its base64 body without line breaks."""
    blocks = re.findall(rb"-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+?)-----END CERTIFICATE-----", content)
    return {b"".join(block.split()) for block in blocks}


def build_secret_own_cas() -> set[bytes]:
    """The CAs of the bundle hack/image.sh gives the build as a secret
    (BUILD_CA_BUNDLE, else SSL_CERT_FILE) that this host added to it itself."""
    secret = os.environ.get("BUILD_CA_BUNDLE") or os.environ.get("SSL_CERT_FILE")
    if not secret or not Path(secret).is_file() or not LOCAL_CAS.is_dir():
        return set()
    local = set().union(*(certificates(path.read_bytes()) for path in LOCAL_CAS.rglob("*.crt")))
    return local & certificates(Path(secret).read_bytes())


def test_no_secret_in_any_layer_and_only_debians_cas(image):
    """The CA bundle given to the build as a secret must not be in the image:
    the only certificates are Debian's bundle, which holds none of the CAs
    the build host added to the secret (this machine's proxy CA, for one)."""
    saved = subprocess.run(["docker", "save", image], capture_output=True, check=True).stdout
    bundles = []
    with tarfile.open(fileobj=io.BytesIO(saved)) as archive:
        layers = [m for m in archive.getmembers() if m.name.endswith("layer.tar")]
        assert layers
        for member in layers:
            with tarfile.open(fileobj=archive.extractfile(member)) as layer:
                for entry in layer.getmembers():
                    assert not entry.name.startswith("run/secrets"), entry.name
                    if entry.isfile():
                        content = layer.extractfile(entry).read()
                        if entry.name == CA_BUNDLE:
                            bundles.append(content)
                        else:
                            assert not PEM_CERTIFICATE.search(content), entry.name
    history = docker("history", "--no-trunc", "--format", "{{.CreatedBy}}", image).stdout
    assert "BEGIN CERTIFICATE" not in history
    (bundle,) = bundles
    assert len(certificates(bundle)) >= 100, "Debian's bundle"
    assert not certificates(bundle) & build_secret_own_cas(), "a CA the build host added is in the image"


def test_the_images_python_trusts_debians_cas(image):
    """TLS to a managed Redis with a public certificate needs no bundle of the user's."""
    code = "import ssl; print(ssl.create_default_context().cert_store_stats()['x509_ca'])"
    result = docker("run", "--rm", "--entrypoint", "python", image, "-c", code)
    assert int(result.stdout) >= 100, result.stdout


def test_no_shell_or_package_manager(image, run_container):
    for program in ("sh", "bash", "apt-get", "pip"):
        result = docker("run", "--rm", "--entrypoint", program, image, check=False)
        assert result.returncode != 0, f"{program} exists in the runtime image"


def run_web(run_container, image, network=None, *env):
    args = ["--read-only", "--tmpfs", "/tmp", "-p", "127.0.0.1::8080"]
    if network:
        args += ["--network", network]
    for item in env:
        args += ["-e", item]
    return run_container(*args, image)


def test_serves_as_non_root_on_read_only_root(image, run_container):
    web = run_web(run_container, image, None, "REDIS_HOST=127.0.0.1")
    url = web.wait_serving()
    assert web.inspect()["HostConfig"]["ReadonlyRootfs"] is True
    processes = docker("top", web.id).stdout.splitlines()[1:]
    assert processes and all(line.split()[0] == "10001" for line in processes), processes
    page = requests.get(url + "/", timeout=5)
    assert page.status_code == 200 and "Hello World!" in page.text
    assert "cannot connect to Redis, counter disabled" in page.text
    assert requests.get(url + "/healthz", timeout=5).json() == {"status": "ok"}
    version = requests.get(url + "/version", timeout=5).json()
    labels = web.inspect()["Config"]["Labels"]
    assert version == {"version": labels["org.opencontainers.image.version"],
                       "revision": labels["org.opencontainers.image.revision"]}


def test_name_is_escaped(image, run_container):
    web = run_web(run_container, image, None, "NAME=<b>x</b>", "REDIS_HOST=127.0.0.1")
    page = requests.get(web.wait_serving() + "/", timeout=5).text
    assert "Hello &lt;b&gt;x&lt;/b&gt;!" in page and "<b>x</b>" not in page


def test_bad_configuration_stops_the_container(image, run_container):
    web = run_container("-e", "REDIS_PORT=abc", image)
    assert docker("wait", web.id, timeout=30).stdout.strip() == "2"
    assert web.logs().strip() == "friendlyhello: configuration error: REDIS_PORT='abc' is not an integer"


def test_counts_with_redis_on_a_network(image, redis_image, run_container, network):
    redis = run_container("--network", network, "--network-alias", "redis", redis_image)
    wait_redis(redis)
    web = run_web(run_container, image, network)
    url = web.wait_serving()
    visits = 25
    counts = [int(VISITS.search(requests.get(url + "/", timeout=5).text).group(1))
              for _ in range(visits)]
    assert counts == list(range(1, visits + 1))
    stored = docker("exec", redis.id, "redis-cli", "get", "counter").stdout.strip()
    assert stored == str(visits)


def test_health_status_becomes_healthy(image, run_container):
    web = run_web(run_container, image, None, "REDIS_HOST=127.0.0.1")
    web.wait_serving()
    wait_until(lambda: web.inspect()["State"]["Health"]["Status"] == "healthy", timeout=40, interval=0.5,
               message="the container's health check to pass")


def test_docker_stop_drains_and_exits_zero(image, redis_image, run_container, network):
    redis = run_container("--network", network, "--network-alias", "redis", redis_image)
    wait_redis(redis)
    web = run_web(run_container, image, network, "REDIS_SOCKET_TIMEOUT=10", "SHUTDOWN_DELAY=1")
    url = web.wait_serving()
    assert requests.get(url + "/", timeout=5).status_code == 200
    # Writes pause, so this visit is still in flight when the stop begins.
    docker("exec", redis.id, "redis-cli", "client", "pause", "3000", "write")
    result = {}

    def visit():
        response = requests.get(url + "/", timeout=30)
        result["status"], result["text"] = response.status_code, response.text

    visitor = threading.Thread(target=visit)
    visitor.start()
    # In flight: Redis holds the visit's INCR, and says so.
    wait_until(lambda: "blocked_clients:1" in docker("exec", redis.id, "redis-cli", "info", "clients").stdout,
               timeout=10, interval=0.1, message="the visit's INCR to wait in Redis")
    started = time.monotonic()
    docker("stop", "--time", "20", web.id, timeout=60)
    stop_seconds = elapsed(started)
    visitor.join(timeout=30)
    assert result["status"] == 200 and "<b>Visits:</b> 2" in result["text"]
    assert web.inspect()["State"]["ExitCode"] == 0
    assert stop_seconds < 20, f"docker stop took {stop_seconds:.1f}s: the grace period ran out"


def test_the_redis_image_run_here_is_the_pinned_line(redis_image):
    """The stand-in (where no registry answers) runs the same Redis major.minor
    as the pinned public image; so does that image where it is pulled."""
    pinned = re.match(r"redis:(\d+)\.(\d+)\.", PINNED["REDIS_IMAGE"])
    output = docker("run", "--rm", redis_image, "redis-server", "--version").stdout
    running = re.search(r"v=(\d+)\.(\d+)\.", output)
    assert running and running.groups() == pinned.groups(), f"{redis_image}: {output}"


def test_the_queued_log_handler_works_on_the_images_python(image):
    """A worker's records go through logging's QueueHandler on the image's own
    Python (3.13's Handler.handle takes the handler's lock unconditionally)."""
    code = ("import logging; from app import logs; logger = logging.getLogger('probe'); "
            "logs.send_to_stdout(logger); logs.write_from_one_thread(); logger.warning('through the queue')")
    result = docker("run", "--rm", "--entrypoint", "python", image, "-c", code, check=False)
    assert result.returncode == 0, result.stderr
    (line,) = [json.loads(text) for text in result.stdout.splitlines() if "through the queue" in text]
    assert line["logger"] == "probe" and line["level"] == "warning"
