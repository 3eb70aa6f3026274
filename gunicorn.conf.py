"""gunicorn settings for friendlyhello; every value comes from app.config.Settings.

Read by gunicorn's master before any worker starts, so a bad environment stops
the server here with one line (exit status 2) rather than in every worker.
"""

import gc
import glob
import os
import signal
import tempfile
import threading

# prometheus-client's multiprocess mode: workers write their values to files
# here and /metrics sums them. Loading this file (SIGHUP, --check-config, a
# second server) deletes nothing: on_starting empties it of its own files.
_metrics_dir = os.environ.setdefault(
    "PROMETHEUS_MULTIPROC_DIR", os.path.join(tempfile.gettempdir(), "friendlyhello-metrics"))
os.makedirs(_metrics_dir, exist_ok=True)

# Imported only now: prometheus-client picks its storage when first imported.
from app.config import load_or_exit  # noqa: E402

settings = load_or_exit()

wsgi_app = "app:create_app()"
bind = [f"0.0.0.0:{settings.port}"]
# Threads, not async workers: the page is a short Redis round trip, and the
# benchmark in bench/ measured gthread ahead of sync at the same process count.
worker_class = "gthread"
workers = settings.workers
threads = settings.threads
keepalive = settings.keepalive
graceful_timeout = settings.graceful_timeout
timeout = 30
# The heartbeat file lives in memory so a read-only root filesystem works.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
# No runtime control socket: it would need a writable home directory, and
# Kubernetes, not an operator's shell, manages these processes.
control_socket_disable = True
logger_class = "app.logs.GunicornLogger"
accesslog = "-"
errorlog = "-"
# The dev loop (GUNICORN_RELOAD=1) syncs edited files into the container:
# workers restart when a loaded module or a template changes.
reload = settings.reload
if reload:
    _here = os.path.dirname(os.path.abspath(__file__))
    reload_extra_files = sorted(glob.glob(os.path.join(_here, "app", "templates", "**", "*"), recursive=True))
# X-Forwarded-* are handled by the app (PROXY_HOPS), not by gunicorn.
forwarded_allow_ips = "127.0.0.1,::1"


def on_starting(server):
    """Once per server start, before any worker: counts never carry over from
    a previous run in the same container. Only prometheus-client's *.db files
    go; anything else in the directory is not this server's to delete."""
    for path in glob.glob(os.path.join(_metrics_dir, "*.db")):
        os.remove(path)


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def post_fork(server, worker):
    """Each worker writes its log lines from one thread of its own; the master,
    which forks, starts none (app/logs.py)."""
    from app import logs

    logs.write_from_one_thread()


def post_worker_init(worker):
    """The app is loaded: freeze what it allocated, and on SIGTERM answer
    /readyz with 503 for SHUTDOWN_DELAY before draining.

    What the imports and create_app allocated lives as long as the worker.
    Frozen (gc.freeze), it is left out of every later collection: a full one,
    which holds the GIL throughout, then walks only what requests left, not
    every module's objects (bench/README.md has the pauses measured).

    Load balancers and Kubernetes endpoints stop sending new connections while
    /readyz answers 503 and this worker still accepts them; only after the
    delay does gunicorn's own graceful stop begin, finishing in-flight requests.
    """
    gc.freeze()
    from app.state import EXTENSION

    # worker.wsgi: the app create_app() built; in the dev loop, a broken edit
    # makes it gunicorn's error app instead, which has no state to drain.
    extensions = getattr(worker.wsgi, "extensions", None)
    if extensions is None:
        return
    state = extensions[EXTENSION]

    def stop_accepting():
        # gunicorn's own SIGTERM handling: stops the loop and wakes its poller,
        # so draining starts now rather than at the poller's next timeout.
        worker.handle_exit(signal.SIGTERM, None)

    def on_sigterm(signum, frame):
        if state.draining.is_set():
            return
        state.draining.set()
        worker.log.info("SIGTERM: draining for %.1fs before stopping", settings.shutdown_delay)
        timer = threading.Timer(settings.shutdown_delay, stop_accepting)
        timer.daemon = True
        timer.start()

    signal.signal(signal.SIGTERM, on_sigterm)
