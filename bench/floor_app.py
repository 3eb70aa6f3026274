"""Baseline (c): a bare WSGI callable, the same page, the same Redis INCR.

The floor of what Python, gunicorn and one Redis round trip can do; no
framework, no escaping, no metrics.
"""

import os
import socket

from redis import Redis, RedisError

_redis = Redis(host=os.getenv("REDIS_HOST", "redis"), port=int(os.getenv("REDIS_PORT", "6379")))
_name = os.getenv("NAME", "world")
_hostname = socket.gethostname()


def app(environ, start_response):
    try:
        visits = _redis.incr("counter")
    except RedisError:
        visits = "<i>cannot connect to Redis, counter disabled</i>"
    body = (f"<h3>Hello {_name}!</h3><b>Hostname:</b> {_hostname}<br/>"
            f"<b>Visits:</b> {visits}").encode()
    start_response("200 OK", [("Content-Type", "text/html; charset=utf-8"),
                              ("Content-Length", str(len(body)))])
    return [body]
