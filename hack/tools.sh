#!/usr/bin/env bash
# Installs the pinned tools (hack/versions.env) into .tools/bin (Helm 3, which
# only skaffold runs, into .tools/helm3), building each from its Go module. A
# tool already at its pinned version is reused; builds share Go's module and
# build caches, so a rebuild is quick.
# checkov (a Python program) gets a virtualenv of its own under .tools/.
# usage: hack/tools.sh [TOOL...]     (default: every tool; see `tools` below)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
apt_install jq # reads `go mod download -json`

bin="$root/.tools/bin"
mkdir -p "$bin"
# One run at a time: make targets running side by side may each call this.
exec 9>"$root/.tools/.lock"
flock 9

# name | module | package in the module | version | binary (under .tools/)
# Helm 3 is kept off the default PATH: only skaffold runs it (see versions.env).
tools=(
  "helm|helm.sh/helm/v4|cmd/helm|$HELM_VERSION|bin/helm"
  "kind|sigs.k8s.io/kind|.|$KIND_VERSION|bin/kind"
  "ct|github.com/helm/chart-testing/v3|ct|$CHART_TESTING_VERSION|bin/ct"
  "docker-compose|github.com/docker/compose/v2|cmd|$COMPOSE_VERSION|bin/docker-compose"
  "skaffold|github.com/GoogleContainerTools/skaffold/v2|cmd/skaffold|$SKAFFOLD_VERSION|bin/skaffold"
  "helm3|helm.sh/helm/v3|cmd/helm|$HELM3_VERSION|helm3/helm"
  "actionlint|github.com/rhysd/actionlint|cmd/actionlint|$ACTIONLINT_VERSION|bin/actionlint"
)

# Each tool is built inside its own module, fetched into Go's module cache
# through the module proxy: the module's replace/exclude lines then apply
# (`go install pkg@version` refuses such modules) and its go.sum pins the build.
build() { # MODULE PACKAGE VERSION OUTPUT
  local module=$1 package=$2 version=$3 output=$4 dir
  dir=$(go mod download -json "$module@$version" | jq -r .Dir) || return 1
  [ -d "$dir" ] || { echo "go mod download gave no directory for $module@$version"; return 1; }
  (cd "$dir" && CGO_ENABLED=0 go build -mod=readonly -trimpath -ldflags=-s -o "$output" "./$package")
}

wanted=("$@")
for entry in "${tools[@]}"; do
  IFS='|' read -r name module package version binary <<<"$entry"
  binary="$root/.tools/$binary"
  package=${package#.}; package=${package#/}
  if [ "${#wanted[@]}" -gt 0 ] && [[ " ${wanted[*]} " != *" $name "* ]]; then continue; fi
  stamp="$(dirname "$binary")/.$name.version"
  if [ -x "$binary" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$version" ]; then
    log "$name $version present"
    continue
  fi
  log "$name $version: building $module/$package"
  build_log=$(mktemp)
  mkdir -p "$(dirname "$binary")"
  start=$SECONDS
  if ! build "$module" "$package" "$version" "$binary" >"$build_log" 2>&1; then
    tail -n 20 "$build_log" >&2
    die "$name: build failed (log: $build_log)"
  fi
  echo "$version" >"$stamp"
  rm -f "$build_log"
  log "$name $version installed ($((SECONDS - start)) s)"
done

# ct's lint reads its chart schema and yamllint rules from files of its module.
if [ -x "$bin/ct" ] && [ ! -f "$root/.tools/etc/ct/$CHART_TESTING_VERSION/lintconf.yaml" ]; then
  ct_dir=$(go mod download -json "github.com/helm/chart-testing/v3@$CHART_TESTING_VERSION" | jq -r .Dir)
  mkdir -p "$root/.tools/etc/ct/$CHART_TESTING_VERSION"
  cp "$ct_dir/etc/chart_schema.yaml" "$ct_dir/etc/lintconf.yaml" "$root/.tools/etc/ct/$CHART_TESTING_VERSION/"
  chmod u+w "$root/.tools/etc/ct/$CHART_TESTING_VERSION/"*
fi

if [ "${#wanted[@]}" -eq 0 ] || [[ " ${wanted[*]} " == *" checkov "* ]]; then
  if [ "$(cat "$bin/.checkov.version" 2>/dev/null)" = "$CHECKOV_VERSION" ] && [ -x "$bin/checkov" ]; then
    log "checkov $CHECKOV_VERSION present"
  else
    log "checkov $CHECKOV_VERSION: pip install into .tools/checkov"
    rm -rf "$root/.tools/checkov"
    python3 -m venv "$root/.tools/checkov"
    "$root/.tools/checkov/bin/pip" install --quiet --disable-pip-version-check "checkov==$CHECKOV_VERSION"
    ln -sfn "$root/.tools/checkov/bin/checkov" "$bin/checkov"
    echo "$CHECKOV_VERSION" >"$bin/.checkov.version"
    log "checkov $CHECKOV_VERSION installed"
  fi
fi

# docker-compose also serves as `docker compose` (a CLI plugin).
if [ -x "$bin/docker-compose" ]; then
  mkdir -p "${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins"
  ln -sfn "$bin/docker-compose" "${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins/docker-compose"
fi
