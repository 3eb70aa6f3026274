"""Endpoints for the platform: liveness, readiness, metrics and version."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify
from prometheus_client import CONTENT_TYPE_LATEST

from . import __version__, state
from .counter import CounterUnavailable

bp = Blueprint("ops", __name__)


@bp.get("/healthz")
def healthz():
    # Liveness: answering at all is the proof; Redis is never consulted, so an
    # outage there cannot make Kubernetes restart healthy web pods.
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    # Readiness drops only while draining. A Redis outage keeps pods ready:
    # they still serve the page, degraded, which beats no endpoints at all.
    current = state()
    if current.draining.is_set():
        return jsonify(status="draining"), 503
    return jsonify(status="ready", redis="up" if current.counter.available else "down")


@bp.get("/metrics")
def metrics():
    current = state()
    # Read the count now so the gauge is exact at scrape time (concurrent
    # visits may have stored their INCR results out of order), but only while
    # the counter is up: scrapes during an outage must not add Redis errors.
    if current.counter.available:
        try:
            current.counter.read()
        except CounterUnavailable:
            pass
    return Response(current.metrics.exposition(), mimetype=CONTENT_TYPE_LATEST)


@bp.get("/version")
def version():
    settings = state().settings
    return jsonify(version=settings.version or __version__, revision=settings.git_revision)
