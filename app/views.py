"""The page and the JSON API for the visit counter."""

from __future__ import annotations

from flask import Blueprint, jsonify

from . import state
from .counter import CounterUnavailable

pages = Blueprint("pages", __name__)
api = Blueprint("api", __name__, url_prefix="/api")


@pages.get("/")
def hello():
    current = state()
    try:
        visits = current.counter.increment()
    except CounterUnavailable:
        visits = None
    # The template is rendered directly: the page needs no context processors,
    # and skipping them is a measurable share of the request on this hot path.
    return current.page.render(name=current.settings.name, hostname=current.hostname,
                               visits=visits)


def _unavailable():
    return jsonify(error="Service Unavailable", status=503,
                   detail="cannot connect to Redis, counter disabled"), 503


@api.get("/visits")
def read_visits():
    try:
        return jsonify(visits=state().counter.read())
    except CounterUnavailable:
        return _unavailable()


@api.post("/visits")
def add_visit():
    try:
        return jsonify(visits=state().counter.increment())
    except CounterUnavailable:
        return _unavailable()
