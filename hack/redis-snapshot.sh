#!/usr/bin/env bash
# Backs up the release's Redis to a local RDB snapshot, or restores one into it.
# usage: hack/redis-snapshot.sh backup|restore FILE
#   The release is RELEASE_NAME in RELEASE_NAMESPACE on KUBE_CONTEXT (by
#   default the one `make up` installs: hack/versions.env, kind-CLUSTER_NAME).
#
# backup: the server's own consistent snapshot (redis-cli --rdb, which Redis
#   writes as for a replica), streamed out of the pod; FILE appears only whole.
# restore: the snapshot is checked first, by the magic a Redis snapshot starts
#   with, then by the running server's redis-check-rdb (a snapshot of a newer
#   Redis, or a damaged one, is refused there): until both pass, nothing in
#   the release is touched. Then it becomes the base of a new append-only
#   directory (Redis loads the AOF, not dump.rdb, when appendonly is on), the
#   current one is kept beside it as appendonlydir.previous, and the Redis pod
#   is replaced so that Redis starts from it. Visits counted between the
#   snapshot and the restore are not in it.
set -euo pipefail
usage="usage: hack/redis-snapshot.sh backup|restore FILE"
action=${1:?$usage}
file=${2:?$usage}
source "$(dirname "$0")/lib.sh"
context=${KUBE_CONTEXT:-kind-$CLUSTER_NAME}
pod=$RELEASE_NAME-redis-0
kube() { kubectl --context "$context" -n "$RELEASE_NAMESPACE" "$@"; }
# COMMAND in the Redis container, with this script's stdin (-i) or without.
in_redis() { if [ "$1" = -i ]; then shift; kube exec -i "$pod" -c redis -- "$@"; else kube exec "$pod" -c redis -- "$@"; fi; }

is_snapshot() { # FILE: starts as every RDB file does, REDIS and a 4-digit format version
  [[ $(head -c 9 "$1" | tr -d '\0') =~ ^REDIS[0-9]{4}$ ]]
}

case $action in
  backup)
    partial="$file.partial"
    log "snapshot of $RELEASE_NAMESPACE/$pod ($context) to $file"
    in_redis redis-cli --no-auth-warning --rdb - >"$partial" 2> >(grep -v -e '^sending REPLCONF' -e '^SYNC sent' -e '^Transfer finished' >&2 || true)
    is_snapshot "$partial" || { rm -f "$partial"; die "what $pod sent is not an RDB snapshot"; }
    mv "$partial" "$file"
    log "wrote $file ($(wc -c <"$file") bytes)"
    ;;
  restore)
    [ -f "$file" ] || die "$file: no such file"
    is_snapshot "$file" || die "$file is not a Redis RDB snapshot (it does not start with REDIS and a format version)"
    format=$(head -c 9 "$file" | tail -c 4)
    if ! check=$(in_redis -i redis-check-rdb /dev/stdin <"$file" 2>&1); then
      die "$file (RDB format $format) is refused by the release's Redis: $(grep -m1 -iE "can't|error|wrong|invalid" <<<"$check" || tail -n1 <<<"$check")"
    fi
    log "$file (RDB format $format) checked by the release's redis-check-rdb"
    # Written beside the data, then swapped in with two renames: a restore cut
    # short leaves the current data as it was.
    in_redis -i sh -ec 'rm -rf /data/appendonlydir.restoring; mkdir /data/appendonlydir.restoring
      cat >/data/appendonlydir.restoring/appendonly.aof.1.base.rdb
      echo "file appendonly.aof.1.base.rdb seq 1 type b" >/data/appendonlydir.restoring/appendonly.aof.manifest' <"$file"
    in_redis sh -ec 'rm -rf /data/appendonlydir.previous
      if [ -d /data/appendonlydir ]; then mv /data/appendonlydir /data/appendonlydir.previous; fi
      mv /data/appendonlydir.restoring /data/appendonlydir'
    log "snapshot in place, the previous data kept as appendonlydir.previous; replacing $pod"
    old=$(kube get pod "$pod" -o jsonpath='{.metadata.uid}')
    kube delete pod "$pod" --wait=true >/dev/null
    for _ in $(seq 120); do
      uid=$(kube get pod "$pod" -o jsonpath='{.metadata.uid}' 2>/dev/null || true)
      [ -z "$uid" ] || [ "$uid" = "$old" ] || break
      sleep 1
    done
    kube wait --for=condition=Ready "pod/$pod" --timeout=180s >/dev/null
    log "restored $file into $RELEASE_NAMESPACE/$pod"
    ;;
  *) die "$usage" ;;
esac
