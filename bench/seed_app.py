"""The Docker get-started app as the seed wrote it, for baselines (a) and (b).

Kept as in the seed (str.format, a 2 s Redis timeout) except that the Redis
address comes from the environment so the benchmark can point it at its own
server. Not shipped: the service is app/.
"""

import os
import socket

from flask import Flask
from redis import Redis, RedisError

redis = Redis(host=os.getenv("REDIS_HOST", "redis"), port=int(os.getenv("REDIS_PORT", "6379")),
              db=0, socket_connect_timeout=2, socket_timeout=2)

app = Flask(__name__)


@app.route("/")
def hello():
    try:
        visits = redis.incr("counter")
    except RedisError:
        visits = "<i>cannot connect to Redis, counter disabled</i>"

    html = "<h3>Hello {name}!</h3>" \
           "<b>Hostname:</b> {hostname}<br/>" \
           "<b>Visits:</b> {visits}"
    return html.format(name=os.getenv("NAME", "world"), hostname=socket.gethostname(), visits=visits)


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=int(os.getenv("PORT", "80")))
