"""Endpoints for the platform: liveness, readiness, metrics and version."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify
from prometheus_client import CONTENT_TYPE_LATEST

from . import __version__
from .counter import CounterUnavailable
from .state import current

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
    state = current()
    if state.draining.is_set():
        return jsonify(status="draining"), 503
    return jsonify(status="ready", redis="up" if state.counter.available else "down")


@bp.get("/metrics")
def metrics():
    state = current()
    # The count as Redis holds it now. A scrape is a caller like any other:
    # while the breaker is open it fails fast without asking Redis (the visits
    # gauge keeps the last count read), and once the breaker's delay is over
    # it may be the probe that finds Redis back, so the degraded gauge clears
    # even when no visitor comes.
    try:
        state.metrics.visits.set(state.counter.read())
    except CounterUnavailable:
        pass
    state.metrics.counter_degraded.set(0 if state.counter.available else 1)
    return Response(state.metrics.exposition(), content_type=CONTENT_TYPE_LATEST)


@bp.get("/version")
def version():
    settings = current().settings
    return jsonify(version=settings.version or __version__, revision=settings.git_revision)
