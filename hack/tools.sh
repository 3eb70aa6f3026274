#!/usr/bin/env bash
# Puts the pinned tools (hack/versions.env) into .tools/bin (Helm 3, which only
# skaffold runs, into .tools/helm3). For each tool asked for:
#   - present in .tools at its pinned version: nothing to do;
#   - on PATH at exactly its pinned version: linked, not built;
#   - else built from its Go module, with the -X flags of its own release
#     (version, commit where the module proxy knows it, build date, and for
#     Helm 3 the Kubernetes version `helm template` assumes), then checked by
#     its own version command.
# kubectl is the one built with the kind node where there is one, else one on
# PATH within one minor of KUBERNETES_VERSION, else built.
# checkov (a Python program) gets a virtualenv of its own under .tools/.
# usage: hack/tools.sh [TOOL...]
#   TOOL: helm kind ct docker-compose skaffold helm3 actionlint registry vegeta checkov kubectl
#   (no TOOL: every one but kubectl, which hack/cluster.sh asks for)
set -euo pipefail
source "$(dirname "$0")/lib.sh"

bin="$root/.tools/bin"
mkdir -p "$bin"
# One run at a time: make targets running side by side may each call this.
exec 9>"$root/.tools/.lock"
flock 9

# name | module | package in the module | pinned version | binary (under .tools/) | name on PATH
tools=(
  "helm|helm.sh/helm/v4|cmd/helm|$HELM_VERSION|bin/helm|helm"
  "kind|sigs.k8s.io/kind|.|$KIND_VERSION|bin/kind|kind"
  "ct|github.com/helm/chart-testing/v3|ct|$CHART_TESTING_VERSION|bin/ct|ct"
  "docker-compose|github.com/docker/compose/v2|cmd|$COMPOSE_VERSION|bin/docker-compose|docker-compose"
  "skaffold|github.com/GoogleContainerTools/skaffold/v2|cmd/skaffold|$SKAFFOLD_VERSION|bin/skaffold|skaffold"
  "helm3|helm.sh/helm/v3|cmd/helm|$HELM3_VERSION|helm3/helm|helm"
  "actionlint|github.com/rhysd/actionlint|cmd/actionlint|$ACTIONLINT_VERSION|bin/actionlint|actionlint"
  "registry|github.com/distribution/distribution/v3|cmd/registry|$DISTRIBUTION_VERSION|bin/registry|registry"
  "vegeta|github.com/tsenart/vegeta/v12|.|$VEGETA_VERSION|bin/vegeta|vegeta"
)

# What a tool's own version command prints, on one line.
version_of() { # NAME BINARY
  local output
  case $1 in
    helm | helm3) output=$("$2" version --template '{{.Version}}') ;;
    actionlint) output=$("$2" -version | head -n 1) ;;
    registry) output=$("$2" --version) ;;
    vegeta) output=$("$2" -version) ;;
    *) output=$("$2" version) ;;
  esac 2>/dev/null || return 0
  tr '\n\t' '  ' <<<"$output"
}

# True when the tool's version command shows VERSION (some print it without the v).
shows_version() { # NAME BINARY VERSION
  local number=${3#v}
  [[ " $(version_of "$1" "$2") " =~ [[:space:]]v?${number//./\\.}[[:space:]] ]]
}

# The -X flags of each tool's release build (from its Makefile or goreleaser
# configuration). $version, $commit (empty where unknown), $date and $dir
# (the module's source) are set by build().
release_ldflags() { # NAME
  case $1 in
    helm) echo "-X helm.sh/helm/v4/internal/version.version=$version -X helm.sh/helm/v4/internal/version.metadata=" \
      "-X helm.sh/helm/v4/internal/version.gitCommit=$commit -X helm.sh/helm/v4/internal/version.gitTreeState=clean" ;;
    helm3)
      # Released Helm 3 assumes the Kubernetes version of the client-go it was
      # built with (its Makefile reads it from go.mod); a plain build says 1.20.
      local client_go major minor package
      client_go=$(cd "$dir" && go list -mod=readonly -m -f '{{.Version}}' k8s.io/client-go)
      major=$(( $(cut -d. -f1 <<<"${client_go#v}") + 1 )); minor=$(cut -d. -f2 <<<"$client_go")
      echo "-X helm.sh/helm/v3/internal/version.version=$version -X helm.sh/helm/v3/internal/version.metadata=" \
        "-X helm.sh/helm/v3/internal/version.gitCommit=$commit -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
      for package in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
        echo "-X $package.k8sVersionMajor=$major -X $package.k8sVersionMinor=$minor"
      done ;;
    kind) echo "-buildid= -X sigs.k8s.io/kind/pkg/cmd/kind/version.gitCommit=$commit" ;;
    ct) echo "-X github.com/helm/chart-testing/v3/ct/cmd.Version=$version" \
      "-X github.com/helm/chart-testing/v3/ct/cmd.GitCommit=${commit:-unknown}" \
      "-X github.com/helm/chart-testing/v3/ct/cmd.BuildDate=$date" ;;
    docker-compose) echo "-X github.com/docker/compose/v2/internal.Version=$version" ;;
    skaffold) echo "-X github.com/GoogleContainerTools/skaffold/v2/pkg/skaffold/version.version=$version" \
      "-X github.com/GoogleContainerTools/skaffold/v2/pkg/skaffold/version.gitCommit=$commit" \
      "-X github.com/GoogleContainerTools/skaffold/v2/pkg/skaffold/version.buildDate=$date" ;;
    actionlint) echo "-X github.com/rhysd/actionlint.version=${version#v}" ;;
    registry) echo "-X github.com/distribution/distribution/v3/version.version=${version#v}" \
      "-X github.com/distribution/distribution/v3/version.revision=$commit" \
      "-X github.com/distribution/distribution/v3/version.mainpkg=github.com/distribution/distribution/v3" ;;
    vegeta) echo "-X main.Version=$version -X main.Commit=$commit -X main.Date=$date" ;;
  esac
}

# The module's directory, its commit (where the proxy knows it) and its date.
module_info() { # MODULE@VERSION
  go mod download -json "$1" | python3 -c 'import json, sys
info = json.load(sys.stdin)
if "Error" in info: sys.exit(info["Error"])
print(info["Dir"], info.get("Origin", {}).get("Hash", ""))'
  go list -m -json "$1" | python3 -c 'import json, sys; print(json.load(sys.stdin)["Time"])'
}

# Each tool is built inside its own module, fetched into Go's module cache
# through the module proxy: the module's replace/exclude lines then apply
# (`go install pkg@version` refuses such modules) and its go.sum pins the build.
build() { # NAME MODULE PACKAGE VERSION OUTPUT
  local name=$1 module=$2 package=$3 version=$4 output=$5 dir commit date info
  info=$(module_info "$module@$version") || return 1
  read -r dir commit <<<"$(head -n 1 <<<"$info")"
  date=$(tail -n 1 <<<"$info")
  [ -d "$dir" ] || { echo "go mod download gave no directory for $module@$version"; return 1; }
  (cd "$dir" && CGO_ENABLED=0 go build -mod=readonly -trimpath \
    -ldflags "-s -w $(release_ldflags "$name" | tr '\n' ' ')" -o "$output" "./$package")
}

# The directories of PATH other than this clone's .tools.
path_elsewhere() { tr ':' '\n' <<<"$PATH" | grep -vxF -e "$bin" -e "$root/.tools/helm3" | paste -sd: -; }

install_tool() { # NAME MODULE PACKAGE VERSION BINARY PATH_NAME
  local name=$1 module=$2 package=$3 version=$4 binary="$root/.tools/$5" path_name=$6 found build_log start
  local stamp
  stamp="$(dirname "$binary")/.$name.version"
  # A link to a tool on PATH is checked again: that tool may have changed since.
  if [ -x "$binary" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$version" ] \
    && { [ ! -L "$binary" ] || shows_version "$name" "$binary" "$version"; }; then
    log "$name $version present"
    return
  fi
  mkdir -p "$(dirname "$binary")"
  found=$(PATH=$(path_elsewhere) command -v "$path_name" || true)
  if [ -n "$found" ] && shows_version "$name" "$found" "$version"; then
    ln -sfn "$found" "$binary"
    echo "$version" >"$stamp"
    log "$name $version: using $found (on PATH at the pinned version)"
    return
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
  shows_version "$name" "$binary" "$version" \
    || die "$name: built, but its version command says '$(version_of "$name" "$binary")', not $version"
  echo "$version" >"$stamp"
  log "$name $version installed ($((SECONDS - start)) s): $(version_of "$name" "$binary")"
}

# kubectl's minor within one of the cluster's, as kubectl's skew policy allows.
kubectl_fits() { # BINARY
  local minor wanted=${KUBERNETES_VERSION#v1.}
  minor=$("$1" version --client -o json 2>/dev/null | python3 -c 'import json, sys
print(json.load(sys.stdin)["clientVersion"]["minor"].rstrip("+"))') || return 1
  (( minor >= ${wanted%%.*} - 1 && minor <= ${wanted%%.*} + 1 ))
}

install_kubectl() {
  local built="$NODE_CACHE/bin/kubernetes-$KUBERNETES_VERSION/kubectl" found
  if [ -x "$built" ]; then
    ln -sfn "$built" "$bin/kubectl"
    log "kubectl: the one built with the kind node ($KUBERNETES_VERSION)"
    return
  fi
  for found in "$bin/kubectl" "$(PATH=$(path_elsewhere) command -v kubectl || true)"; do
    if [ -n "$found" ] && [ -x "$found" ] && kubectl_fits "$found"; then
      [ "$found" = "$bin/kubectl" ] || ln -sfn "$found" "$bin/kubectl"
      log "kubectl: using $(readlink -f "$found") (within one minor of $KUBERNETES_VERSION)"
      return
    fi
  done
  log "kubectl: none within one minor of $KUBERNETES_VERSION here: building it (a few minutes)"
  "$root/hack/airgap/node-binaries.sh" kubectl
  ln -sfn "$NODE_CACHE/bin/kubectl-$KUBERNETES_VERSION/kubectl" "$bin/kubectl"
}

install_checkov() {
  if [ "$(cat "$bin/.checkov.version" 2>/dev/null)" = "$CHECKOV_VERSION" ] && [ -x "$bin/checkov" ]; then
    log "checkov $CHECKOV_VERSION present"
    return
  fi
  log "checkov $CHECKOV_VERSION: pip install into .tools/checkov"
  rm -rf "$root/.tools/checkov"
  python3 -m venv "$root/.tools/checkov"
  "$root/.tools/checkov/bin/pip" install --quiet --disable-pip-version-check "checkov==$CHECKOV_VERSION"
  ln -sfn "$root/.tools/checkov/bin/checkov" "$bin/checkov"
  echo "$CHECKOV_VERSION" >"$bin/.checkov.version"
  log "checkov $CHECKOV_VERSION installed"
}

# ct's lint reads its chart schema and yamllint rules from files of its module.
install_ct_config() {
  local etc="$root/.tools/etc/ct/$CHART_TESTING_VERSION" dir info
  [ ! -f "$etc/lintconf.yaml" ] || return 0
  info=$(module_info "github.com/helm/chart-testing/v3@$CHART_TESTING_VERSION")
  read -r dir _ <<<"$(head -n 1 <<<"$info")"
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
  case $name in
    kubectl) install_kubectl; continue ;;
    checkov) install_checkov; continue ;;
  esac
  entry=$(printf '%s\n' "${tools[@]}" | grep "^$name|") || die "no tool named '$name' (usage: hack/tools.sh [TOOL...])"
  IFS='|' read -r _ module package version binary path_name <<<"$entry"
  package=${package#.}; package=${package#/}
  install_tool "$name" "$module" "$package" "$version" "$binary" "$path_name"
  [ "$name" != ct ] || install_ct_config
done
