"""The page and the JSON API for the visit counter."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from . import state
from .counter import CounterUnavailable

pages = Blueprint("pages", __name__)
api = Blueprint("api", __name__, url_prefix="/api")


@pages.get("/")
def hello():
    current = state()
    # HEAD asks for the headers of the page, not for a visit: it reads the count.
    count = current.counter.read if request.method == "HEAD" else current.counter.increment
    try:
        visits = count()
    except CounterUnavailable:
        visits = None
    # The template is rendered directly: the page needs no context processors,
    # and skipping them is a measurable share of the request on this hot path.
    return current.page.render(name=current.settings.name, hostname=current.hostname,
                               visits=visits)


def _visits(count):
    """The JSON answer for a counter operation; 503 with a JSON body while Redis is away."""
    try:
        return jsonify(visits=count())
    except CounterUnavailable:
        return jsonify(error="Service Unavailable", status=503,
                       detail="cannot connect to Redis, counter disabled"), 503


@api.get("/visits")
def read_visits():
    return _visits(state().counter.read)


@api.post("/visits")
def add_visit():
    return _visits(state().counter.increment)
