#!/usr/bin/env bash
# Builds the stand-in for LOCAL_REGISTRY_IMAGE where no registry answers: the
# Distribution registry binary hack/tools.sh builds (DISTRIBUTION_VERSION, a
# static Go program) in an otherwise empty image, laid out as the official
# image is: config at /etc/distribution/config.yml, storage in
# /var/lib/registry, listening on :5000. Prints its reference. Reused when
# present; --force rebuilds it.
# usage: hack/airgap/registry-image.sh [--force]
set -euo pipefail
source "$(dirname "$0")/lib.sh"

image="$STANDIN_REGISTRY_REPOSITORY:$DISTRIBUTION_VERSION"
reused "$image" "${1:-}" && exit 0
"$root/hack/tools.sh" registry
binary=$(readlink -f "$root/.tools/bin/registry")
go version -m "$binary" | grep 'CGO_ENABLED=0' >/dev/null || die "$binary is not a static (CGO_ENABLED=0) build: it cannot run alone in an image"
tree=$(mktemp -d)
trap 'rm -rf "$tree"' EXIT
mkdir -p "$tree/bin" "$tree/etc/distribution" "$tree/var/lib/registry" "$tree/tmp"
install -m 0755 "$binary" "$tree/bin/registry"
cat >"$tree/etc/distribution/config.yml" <<'CONFIG'
version: 0.1
log:
  fields: {service: registry}
storage:
  filesystem: {rootdirectory: /var/lib/registry}
  delete: {enabled: true}
http:
  addr: :5000
  headers:
    X-Content-Type-Options: [nosniff]
CONFIG
log "importing $binary as $image"
tar -C "$tree" -c . | docker import \
  --change 'ENTRYPOINT ["/bin/registry"]' --change 'CMD ["serve", "/etc/distribution/config.yml"]' \
  --change 'EXPOSE 5000' --change 'VOLUME /var/lib/registry' --change 'ENV OTEL_TRACES_EXPORTER=none' \
  - "$image" >/dev/null
echo "$image"
