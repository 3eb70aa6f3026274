#!/usr/bin/env bash
# Instructions per request of the floor (c), the seed (b) and this service (d),
# counted by valgrind's callgrind: the same total for the same code whatever
# else the machine does, where make bench's requests per second move with the
# host's speed. Each contender runs one gunicorn worker with one thread under
# callgrind, serves 200 warm-up visits and then N more on one keep-alive
# connection, twice (N = 300 and 1300); the difference of the worker's totals
# over 1000 is its cost per page, start-up and warm-up cancelled out.
# User-space instructions only: the kernel's share of a request (sockets) and
# Redis's are not in them. Then (d)'s access line alone: app/logs.py's
# logger called for 1000 and for 3000 made-up requests in one process (no
# server), its writer thread running as in a worker; the difference over 2000
# is what a page spends on its line through the standard library's logging.
# usage: bench/instructions.sh        (needs valgrind, redis-server and .venv)
set -euo pipefail
case "${1:-}" in
  "") ;;
  *) echo "usage: bench/instructions.sh        (needs valgrind, redis-server and .venv)" >&2; exit 2 ;;
esac
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
for program in valgrind redis-server curl; do
  command -v "$program" >/dev/null || { echo "bench/instructions.sh: $program is not installed" >&2; exit 1; }
done
work=$(mktemp -d)
free_port() { "$root/.venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --dir "$work" >/dev/null &
redis=$!
trap 'kill $redis 2>/dev/null || true; rm -rf "$work"' EXIT

gunicorn_args() { # CONTENDER PORT
  case $1 in
    c) echo "-k gthread -w 1 --threads 1 --no-control-socket -c /dev/null -b 127.0.0.1:$2 bench.floor_app:app" ;;
    b) echo "-k gthread -w 1 --threads 1 --no-control-socket -c /dev/null -b 127.0.0.1:$2 bench.seed_app:app" ;;
    d) echo "-c gunicorn.conf.py" ;;
  esac
}

# The worker's instruction total after 200 + VISITS visits.
count() { # CONTENDER VISITS
  local port out server
  port=$(free_port)
  out="$work/$1-$2"
  mkdir -p "$out/metrics"
  # shellcheck disable=SC2046 # the arguments are words
  env PYTHONHASHSEED=0 PORT="$port" WEB_CONCURRENCY=1 GUNICORN_THREADS=1 REDIS_HOST=127.0.0.1 \
    REDIS_PORT="$redis_port" SHUTDOWN_DELAY=0 PROMETHEUS_MULTIPROC_DIR="$out/metrics" \
    valgrind --tool=callgrind --callgrind-out-file="$out/callgrind.%p" \
    "$root/.venv/bin/python" -m gunicorn $(gunicorn_args "$1" "$port") >"$out/log" 2>&1 &
  server=$!
  for _ in $(seq 1 300); do curl -s -o /dev/null "http://127.0.0.1:$port/healthz" && break; sleep 1; done
  "$root/.venv/bin/python" - "$port" "$((200 + $2))" <<'PYTHON'
import http.client, sys
connection = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=60)
for _ in range(int(sys.argv[2])):
    connection.request("GET", "/")
    response = connection.getresponse()
    response.read()
    assert response.status == 200, response.status
PYTHON
  kill "$server"
  wait "$server" || true
  # The worker's file is the larger of the two (the master only waits).
  grep -h '^totals:' "$(ls -S "$out"/callgrind.* | head -n 1)" | awk '{print $2}'
}

declare -A per_request
for contender in c b d; do
  low=$(count "$contender" 300)
  high=$(count "$contender" 1300)
  per_request[$contender]=$(( (high - low) / 1000 ))
  echo "($contender) ${per_request[$contender]} instructions per page" >&2
done
# The process's total after LINES access lines, written as a worker writes them.
count_access_lines() { # LINES
  local out="$work/access-$1"
  mkdir -p "$out"
  env PYTHONHASHSEED=0 valgrind --tool=callgrind --callgrind-out-file="$out/callgrind" \
    "$root/.venv/bin/python" - "$1" >"$out/lines" 2>"$out/log" <<'PYTHON'
import datetime, sys
from gunicorn.config import Config
from app import logs
config = Config()
for name, value in (("accesslog", "-"), ("errorlog", "-"), ("logger_class", "app.logs.GunicornLogger")):
    config.set(name, value)
logger = logs.GunicornLogger(config)
logs.write_from_one_thread()
class Response:
    status, status_code, sent = "200 OK", 200, 110
environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/", "QUERY_STRING": "", "REMOTE_ADDR": "127.0.0.1",
           "HTTP_USER_AGENT": "curl/8.0", logs.ACCESS_FIELDS: {"request_id": "0" * 32, "route": "/"}}
took = datetime.timedelta(microseconds=1500)
for _ in range(int(sys.argv[1])):
    logger.access(Response, None, environ, took)
PYTHON
  # Every line written, and as an access line: a failing call would log an
  # error instead, and count the error's cost.
  local written
  written=$(grep -c '"logger":"gunicorn.access"' "$out/lines" || true)
  if [ "$written" != "$1" ] || grep -q '"level":"error"' "$out/lines"; then
    echo "bench/instructions.sh: the access-line harness wrote $written of $1 access lines:" >&2
    grep -m 3 -v '"logger":"gunicorn.access"' "$out/lines" >&2 || true
    exit 1
  fi
  grep -h '^totals:' "$out/callgrind" | awk '{print $2}'
}
low=$(count_access_lines 1000) || exit 1
high=$(count_access_lines 3000) || exit 1
echo "(d) $(( (high - low) / 2000 )) instructions per access line" >&2

awk -v c="${per_request[c]}" -v b="${per_request[b]}" -v d="${per_request[d]}" 'BEGIN {
  printf "(c) floor %d, (b) seed %d, (d) friendlyhello %d instructions per page\n", c, b, d
  printf "cost ratios as throughput: (d)/(b) = %.2fx, (d)/(c) = %.2fx\n", b / d, c / d }'
