#!/usr/bin/env bash
# Installs the pinned tools (hack/versions.env) into .tools/bin, building each
# from its Go module with `go install`. A tool already at its pinned version is
# reused; builds share Go's module and build caches, so a rebuild is quick.
# usage: hack/tools.sh [TOOL...]     (default: every tool; see `tools` below)
set -euo pipefail
source "$(dirname "$0")/lib.sh"

bin="$root/.tools/bin"
mkdir -p "$bin"

# name | Go package | version | binary name `go install` produces
tools=(
  "helm|helm.sh/helm/v4/cmd/helm|$HELM_VERSION|helm"
  "kind|sigs.k8s.io/kind|$KIND_VERSION|kind"
  "kubeconform|github.com/yannh/kubeconform/cmd/kubeconform|$KUBECONFORM_VERSION|kubeconform"
  "docker-compose|github.com/docker/compose/v2/cmd|$COMPOSE_VERSION|cmd"
)

wanted=("$@")
for entry in "${tools[@]}"; do
  IFS='|' read -r name package version built <<<"$entry"
  if [ "${#wanted[@]}" -gt 0 ] && [[ " ${wanted[*]} " != *" $name "* ]]; then continue; fi
  stamp="$bin/.$name.version"
  if [ -x "$bin/$name" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$version" ]; then
    log "$name $version present"
    continue
  fi
  log "$name $version: go install $package"
  scratch=$(mktemp -d)
  if ! GOBIN="$scratch" CGO_ENABLED=0 go install -trimpath -ldflags=-s "$package@$version" \
      >"$scratch.log" 2>&1; then
    tail -n 20 "$scratch.log" >&2
    die "$name: go install failed (log: $scratch.log)"
  fi
  mv "$scratch/$built" "$bin/$name"
  echo "$version" >"$stamp"
  rm -rf "$scratch" "$scratch.log"
  log "$name $version installed"
done

# docker-compose also serves as `docker compose` (a CLI plugin).
if [ -x "$bin/docker-compose" ]; then
  mkdir -p "${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins"
  ln -sfn "$bin/docker-compose" "${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins/docker-compose"
fi
