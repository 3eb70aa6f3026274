"""The page and the JSON API for the visit counter."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from . import state
from .counter import CounterUnavailable
from .page import visits_for

pages = Blueprint("pages", __name__)
api = Blueprint("api", __name__, url_prefix="/api")


@pages.get("/")
def hello():
    """The page for what app.page.PageServer leaves to Flask: a request with a body."""
    current = state()
    return current.page.body(visits_for(current.counter, request.method))


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
