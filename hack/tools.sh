#!/usr/bin/env bash
# Puts the pinned tools (hack/versions.env) into .tools/bin (Helm 3, which only
# skaffold runs, into .tools/helm3). For each tool asked for:
#   - one of yours on PATH is used (linked) when its version is supported:
#     helm 4.x, or 3.x from HELM3_VERSION's minor on; kind of KIND_VERSION's
#     minor; kubectl within one minor of KUBERNETES_VERSION; any other tool
#     at exactly its pinned version;
#   - else the pinned version is built from its Go module, with the -X flags
#     of its own release (version, commit where the module proxy knows it,
#     build date, and for Helm 3 the Kubernetes version `helm template`
#     assumes), then checked by its own version command.
# Each says in one line which it did. .tools/stamps/NAME@VERSION marks a tool
# done for make; .tools/bin/.NAME.source says where it came from.
# checkov (a Python program) gets a virtualenv of its own under .tools/.
# usage: hack/tools.sh [TOOL...]
#   TOOL: helm kind kubectl ct docker-compose skaffold helm3 actionlint registry vegeta cosign crane syft
#         kube-score promtool checkov
#   (no TOOL: every one)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$root/hack/go-build.sh"
source "$root/hack/go-release.sh"

bin="$root/.tools/bin"
stamps="$root/.tools/stamps"
mkdir -p "$bin" "$stamps"
# One run at a time: make targets running side by side may each call this.
exec 9>"$root/.tools/.lock"
flock 9

# name | module | package in the module | pinned version | binary (under .tools/) | name on PATH
tools=(
  "helm|helm.sh/helm/v4|cmd/helm|$HELM_VERSION|bin/helm|helm"
  "kind|sigs.k8s.io/kind|.|$KIND_VERSION|bin/kind|kind"
  "kubectl|k8s.io/kubernetes|cmd/kubectl|$KUBERNETES_VERSION|bin/kubectl|kubectl"
  "ct|github.com/helm/chart-testing/v3|ct|$CHART_TESTING_VERSION|bin/ct|ct"
  "docker-compose|github.com/docker/compose/v2|cmd|$COMPOSE_VERSION|bin/docker-compose|docker-compose"
  "skaffold|github.com/GoogleContainerTools/skaffold/v2|cmd/skaffold|$SKAFFOLD_VERSION|bin/skaffold|skaffold"
  "helm3|helm.sh/helm/v3|cmd/helm|$HELM3_VERSION|helm3/helm|helm"
  "actionlint|github.com/rhysd/actionlint|cmd/actionlint|$ACTIONLINT_VERSION|bin/actionlint|actionlint"
  "registry|github.com/distribution/distribution/v3|cmd/registry|$DISTRIBUTION_VERSION|bin/registry|registry"
  "vegeta|github.com/tsenart/vegeta/v12|.|$VEGETA_VERSION|bin/vegeta|vegeta"
  "cosign|github.com/sigstore/cosign/v3|cmd/cosign|$COSIGN_VERSION|bin/cosign|cosign"
  "crane|github.com/google/go-containerregistry|cmd/crane|$CRANE_VERSION|bin/crane|crane"
  "syft|github.com/anchore/syft|cmd/syft|$SYFT_VERSION|bin/syft|syft"
  "kube-score|github.com/zegl/kube-score|cmd/kube-score|$KUBE_SCORE_VERSION|bin/kube-score|kube-score"
  "promtool|github.com/prometheus/prometheus|cmd/promtool|$PROMETHEUS_VERSION|bin/promtool|promtool"
)

# The version a tool says it is (vX.Y.Z), or nothing.
version_of() { # NAME BINARY
  local output
  case $1 in
    helm | helm3) output=$("$2" version --template '{{.Version}}') ;;
    kubectl) output=$("$2" version --client -o json | python3 -c 'import json, sys
print(json.load(sys.stdin)["clientVersion"]["gitVersion"])') ;;
    actionlint) output=$("$2" -version) ;;
    registry) output=$("$2" --version) ;;
    vegeta) output=$("$2" -version) ;;
    promtool) output=$("$2" --version) ;;
    cosign) output=$("$2" version --json | python3 -c 'import json, sys
print(json.load(sys.stdin)["gitVersion"])') ;;
    *) output=$("$2" version) ;;
  esac 2>/dev/null || return 0
  { grep -oE 'v?[0-9]+\.[0-9]+\.[0-9]+' <<<"$output" || true; } | sed -n '1s/^v*/v/p'
}

minor_of() { cut -d. -f2 <<<"$1"; }

# True when VERSION of tool NAME may be used in place of the pinned one.
supported() { # NAME VERSION
  local name=$1 version=$2 pinned
  pinned=$(printf '%s\n' "${tools[@]}" | grep "^$name|" | cut -d'|' -f4)
  case $name in
    helm) [[ $version == v4.* ]] || { [[ $version == v3.* ]] && (($(minor_of "$version") >= $(minor_of "$HELM3_VERSION"))); } ;;
    kind) [[ ${version%.*} == "${pinned%.*}" ]] ;;
    kubectl) [[ $version == v1.* ]] && (($(minor_of "$version") - $(minor_of "$pinned") <= 1)) \
      && (($(minor_of "$pinned") - $(minor_of "$version") <= 1)) ;;
    *) [ "$version" = "$pinned" ] ;;
  esac
}

# What each tool supported in place of the pin is, for the log line.
range_of() { # NAME
  case $1 in
    helm) echo "4.x, or 3.x from ${HELM3_VERSION%.*}" ;;
    kind) echo "${KIND_VERSION%.*}.x" ;;
    kubectl) echo "within one minor of ${KUBERNETES_VERSION%.*}" ;;
    *) echo "exactly the pinned version" ;;
  esac
}

# The directories of PATH other than this clone's .tools.
path_elsewhere() { tr ':' '\n' <<<"$PATH" | grep -vxF -e "$bin" -e "$root/.tools/helm3" | paste -sd: -; }

done_with() { # NAME PINNED SOURCE
  echo "$3" >"$bin/.$1.source"
  touch "$stamps/$1@$2"
}

install_tool() { # NAME MODULE PACKAGE VERSION BINARY PATH_NAME
  local name=$1 module=$2 package=$3 version=$4 binary="$root/.tools/$5" path_name=$6 found found_version
  local build_log start
  mkdir -p "$(dirname "$binary")"
  if [ -x "$binary" ] && [ ! -L "$binary" ] && [ "$(version_of "$name" "$binary")" = "$version" ]; then
    log "$name $version present"
    done_with "$name" "$version" "built $version"
    return
  fi
  # helm3 is skaffold's Helm, a pinned version beside helm: never the one on PATH as helm.
  found=$([ "$name" = helm3 ] || PATH=$(path_elsewhere) command -v "$path_name" || true)
  if [ -n "$found" ]; then
    found_version=$(version_of "$name" "$found")
    if [ -n "$found_version" ] && supported "$name" "$found_version"; then
      ln -sfn "$found" "$binary"
      log "$name: using yours, $found ($found_version; supported: $(range_of "$name"))"
      done_with "$name" "$version" "$found $found_version"
      return
    fi
    log "$name: yours, $found (${found_version:-no version}), is not supported ($(range_of "$name")): building $version"
  fi
  log "$name $version: building $module${package:+/$package}"
  build_log=$(mktemp)
  start=$SECONDS
  rm -f "$binary"
  if ! build "$name" "$module" "$package" "$version" "$binary" >"$build_log" 2>&1; then
    tail -n 20 "$build_log" >&2
    die "$name: build failed (log: $build_log)"
  fi
  rm -f "$build_log"
  [ "$(version_of "$name" "$binary")" = "$version" ] \
    || die "$name: built, but its version command says '$(version_of "$name" "$binary")', not $version"
  log "$name $version installed ($((SECONDS - start)) s)"
  done_with "$name" "$version" "built $version"
}

install_checkov() {
  if [ "$(cat "$bin/.checkov.source" 2>/dev/null)" = "built $CHECKOV_VERSION" ] && [ -x "$bin/checkov" ]; then
    log "checkov $CHECKOV_VERSION present"
  else
    log "checkov $CHECKOV_VERSION: pip install into .tools/checkov"
    rm -rf "$root/.tools/checkov"
    python3 -m venv "$root/.tools/checkov"
    "$root/.tools/checkov/bin/pip" install --quiet --disable-pip-version-check "checkov==$CHECKOV_VERSION"
    ln -sfn "$root/.tools/checkov/bin/checkov" "$bin/checkov"
    log "checkov $CHECKOV_VERSION installed"
  fi
  done_with checkov "$CHECKOV_VERSION" "built $CHECKOV_VERSION"
}

# ct's lint reads its chart schema and yamllint rules from files of its module.
install_ct_config() {
  local etc="$root/.tools/etc/ct/$CHART_TESTING_VERSION" dir
  [ ! -f "$etc/lintconf.yaml" ] || return 0
  dir=$(module_dir "github.com/helm/chart-testing/v3@$CHART_TESTING_VERSION")
  mkdir -p "$etc"
  cp "$dir/etc/chart_schema.yaml" "$dir/etc/lintconf.yaml" "$etc/"
  chmod u+w "$etc"/*
}

wanted=("$@")
if [ "${#wanted[@]}" -eq 0 ]; then
  for entry in "${tools[@]}"; do wanted+=("${entry%%|*}"); done
  wanted+=(checkov)
fi
for name in "${wanted[@]}"; do
  if [ "$name" = checkov ]; then
    install_checkov
    continue
  fi
  entry=$(printf '%s\n' "${tools[@]}" | grep "^$name|") || die "no tool named '$name' (usage: hack/tools.sh [TOOL...])"
  IFS='|' read -r _ module package version binary path_name <<<"$entry"
  package=${package#.}; package=${package#/}
  # Before the tool itself, whose stamp says to make that all it needs is there.
  [ "$name" != ct ] || install_ct_config
  install_tool "$name" "$module" "$package" "$version" "$binary" "$path_name"
done
