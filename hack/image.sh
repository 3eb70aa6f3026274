#!/usr/bin/env bash
# Builds the service image and prints its reference (repository:tag) on stdout.
# The tag is the app version plus a hash of everything the build reads (the
# base image's name included), so a change to the app gives a new tag and an unchanged tree reuses the image.
# The base is image_for base: BASE_IMAGE, or a local stand-in where no
# registry answers.
# Extra CA certificates for pip inside the build: BUILD_CA_BUNDLE (a file;
# defaults to $SSL_CERT_FILE when that is set).
# usage: hack/image.sh
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$root"

# The build's context is what .dockerignore lets in (it lists what to keep):
# those files, the Dockerfile and .dockerignore make the tag.
mapfile -t kept < <(sed -n 's/^!//p' .dockerignore)
mapfile -t context < <(git ls-files -co --exclude-standard -- "${kept[@]}" | grep -v __pycache__ | sort)
content=$( (echo "BASE_IMAGE=$BASE_IMAGE"; cat Dockerfile .dockerignore "${context[@]}") | sha256sum | cut -c1-12)
ref="$IMAGE_REPOSITORY:$(app_version)-$content"

if image_exists "$ref"; then
  log "$ref present, not rebuilt"
  echo "$ref"
  exit 0
fi
base=$(image_for base)
args=(--build-arg "BASE_IMAGE=$base" --build-arg "VERSION=$(app_version)"
      --build-arg "REVISION=$(git rev-parse HEAD 2>/dev/null || true)" --tag "$ref")
ca=${BUILD_CA_BUNDLE:-${SSL_CERT_FILE:-}}
[ -n "$ca" ] && [ -f "$ca" ] && args+=(--secret "id=ca,src=$ca")
log "building $ref on $base"
docker_build --progress=plain "${args[@]}" . >"${TMPDIR:-/tmp}/friendlyhello-build.log" 2>&1 \
  || { tail -n 30 "${TMPDIR:-/tmp}/friendlyhello-build.log" >&2; die "image build failed (log: ${TMPDIR:-/tmp}/friendlyhello-build.log)"; }
log "built $ref ($(docker image inspect -f '{{.Size}}' "$ref" | numfmt --to=si)B)"
echo "$ref"
