#!/usr/bin/env bash
# Backs up the release's Redis to a local RDB snapshot, or restores one into it.
# usage: hack/redis-snapshot.sh backup|restore FILE
#   The release is RELEASE_NAME in RELEASE_NAMESPACE on KUBE_CONTEXT (by
#   default the one `make up` installs: hack/versions.env, kind-CLUSTER_NAME).
#
# backup: the server's own consistent snapshot (redis-cli --rdb, which Redis
#   writes as for a replica) into a file beside the data, streamed out of the
#   pod and removed; FILE appears only whole. (Written to a pipe, `--rdb -`,
#   a diskless transfer keeps its 40-byte end marker after the snapshot, which
#   redis-cli can only cut from a file: Redis then refuses to load it.)
# restore: the snapshot is checked first, by the magic a Redis snapshot starts
#   with, then by the running server's redis-check-rdb (a snapshot of a newer
#   Redis, or a damaged one, is refused there): until both pass, nothing in
#   the release is touched. It is then copied beside the data as the base of
#   a new append-only directory (Redis loads the AOF, not dump.rdb, when
#   appendonly is on), checked there by redis-check-aof as Redis will load
#   it (bytes after the snapshot's end are refused), and marked READY; Redis is
#   restarted, and the chart's start script swaps it in while Redis is down,
#   keeping the data it replaces as appendonlydir.previous. Visits counted
#   between the snapshot and the restore are not in it.
set -euo pipefail
usage="usage: hack/redis-snapshot.sh backup|restore FILE"
action=${1:?$usage}
file=${2:?$usage}
source "$(dirname "$0")/lib.sh"
context=${KUBE_CONTEXT:-kind-$CLUSTER_NAME}
kube() { kubectl --context "$context" -n "$RELEASE_NAMESPACE" "$@"; }

pods=$(kube get pods -l "app.kubernetes.io/instance=$RELEASE_NAME,app.kubernetes.io/component=redis" \
  -o jsonpath='{.items[*].metadata.name}') || die "cannot list the pods of $RELEASE_NAMESPACE ($context)"
read -r -a pods <<<"$pods"
[ "${#pods[@]}" -eq 1 ] || die "release $RELEASE_NAME in $RELEASE_NAMESPACE ($context) has ${#pods[@]} Redis pods, not one"
pod=${pods[0]}

# COMMAND in the Redis container, with this script's stdin (-i) or without.
in_redis() {
  if [ "$1" = -i ]; then shift; kube exec -i "$pod" -c redis -- "$@"; else kube exec "$pod" -c redis -- "$@"; fi
}
is_snapshot() { # FILE: starts as every RDB file does, REDIS and a 4-digit format version
  [[ $(head -c 9 "$1" | tr -d '\0') =~ ^REDIS[0-9]{4}$ ]]
}
# The reason redis-check-rdb or redis-check-aof gives: the line after the
# former's error banner, else the latter's "format error" line, else its last.
check_failure() { # OUTPUT
  awk '/RDB ERROR DETECTED/ {getline; sub(/^\[offset [0-9]+\] /, ""); print; found=1; exit}
       /format error|not valid/ && !aof {aof=$0}
       {last=$0}
       END {if (!found) print (aof != "" ? aof : last)}' <<<"$1"
}
restarts() { kube get pod "$pod" -o jsonpath='{.status.containerStatuses[?(@.name=="redis")].restartCount}'; }

case $action in
  backup)
    partial="$file.partial"
    trap 'rm -f "$partial"' EXIT
    log "snapshot of $RELEASE_NAMESPACE/$pod ($context) to $file"
    in_redis sh -ec 'trap "rm -f /data/.backup.rdb" EXIT
      redis-cli --no-auth-warning --rdb /data/.backup.rdb >/dev/null; cat /data/.backup.rdb' >"$partial"
    is_snapshot "$partial" || die "what $pod sent is not an RDB snapshot"
    mv "$partial" "$file"
    log "wrote $file ($(wc -c <"$file") bytes)"
    ;;
  restore)
    [ -f "$file" ] || die "$file: no such file"
    is_snapshot "$file" || die "$file is not a Redis RDB snapshot (it does not start with REDIS and a format version)"
    format=$(head -c 9 "$file" | tail -c 4)
    if ! check=$(in_redis -i redis-check-rdb /dev/stdin <"$file" 2>&1); then
      die "$file (RDB format $format) is refused by the release's Redis: $(check_failure "$check")"
    fi
    log "$file (RDB format $format) checked by the release's redis-check-rdb"
    in_redis -i sh -ec 'rm -rf /data/appendonlydir.restoring; mkdir /data/appendonlydir.restoring
      cat >/data/appendonlydir.restoring/appendonly.aof.1.base.rdb
      echo "file appendonly.aof.1.base.rdb seq 1 type b" >/data/appendonlydir.restoring/appendonly.aof.manifest' <"$file"
    if ! check=$(in_redis redis-check-aof /data/appendonlydir.restoring/appendonly.aof.manifest 2>&1); then
      in_redis rm -rf /data/appendonlydir.restoring
      die "$file is refused by the release's Redis as an append-only base: $(check_failure "$check")"
    fi
    before=$(restarts)
    in_redis sh -ec 'sync; touch /data/appendonlydir.restoring/READY'
    log "snapshot in place beside the data; restarting Redis in $pod"
    # Redis exits, and the exec with it; the container's start swaps the snapshot in.
    in_redis redis-cli --no-auth-warning shutdown nosave >/dev/null 2>&1 || true
    for _ in $(seq 180); do
      [ "$(restarts)" = "$before" ] || break
      sleep 1
    done
    [ "$(restarts)" != "$before" ] || die "Redis in $pod did not restart (SHUTDOWN refused?); the snapshot waits in /data/appendonlydir.restoring for its next start"
    kube wait --for=condition=Ready "pod/$pod" --timeout=180s >/dev/null
    in_redis sh -c '! test -e /data/appendonlydir.restoring' || die "Redis in $pod restarted without taking the snapshot"
    log "restored $file into $RELEASE_NAMESPACE/$pod (the data before: /data/appendonlydir.previous)"
    ;;
  *) die "$usage" ;;
esac
