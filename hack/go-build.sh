# Sourced by hack/tools.sh and the local kind node's build: Go programs built
# from their modules (fetched into Go's module cache through the module proxy)
# as their releases build them.
# shellcheck shell=bash

# Every build's flags: paths trimmed, as releases build; and no DWARF debug
# information compiled in, which the release flags' `-s -w` strip at link time
# anyway: the same program in about a fifth less compile time (ct from an
# empty build cache, four builds each: 40.5 s median with it, 33.3 s without).
go_build_flags=(-trimpath -gcflags=all=-dwarf=false)

# The module's directory in the cache and its commit (empty where the proxy
# does not say).
module_info() { # MODULE@VERSION
  go mod download -json "$1" | python3 -c 'import json, sys
info = json.load(sys.stdin)
if "Error" in info: sys.exit(info["Error"])
print(info["Dir"], info.get("Origin", {}).get("Hash", ""))'
}

module_time() { go list -m -json "$1" | python3 -c 'import json, sys; print(json.load(sys.stdin)["Time"])'; }

module_dir() { local info; info=$(module_info "$1") && echo "${info%% *}"; }

# A module whose go.mod points sibling modules at local paths ("=> ./x" or
# "=> ../x") cannot be built as a dependency: this prints one replace line per
# such module, mapping it to its published VERSION instead.
published_replaces() { # GO_MOD VERSION
  sed -nE 's#^[[:space:]]*([^[:space:]]+)[[:space:]]+=>[[:space:]]+\.\.?/.*$#replace \1 => \1 '"$2"'#p' "$1"
}

# A wrapper module in DIR that requires MODULE@VERSION with its local replaces
# resolved to STAGING_VERSION.
wrapper_module() { # DIR MODULE VERSION STAGING_VERSION
  local dir=$1 module=$2 version=$3 staging=$4 upstream
  upstream=$(module_dir "$module@$version")
  mkdir -p "$dir"
  {
    echo "module friendlyhello.local/build/$(basename "$dir")"
    echo
    sed -nE 's/^go ([0-9.]+)$/go \1/p' "$upstream/go.mod"
    echo "require $module $version"
    published_replaces "$upstream/go.mod" "$staging"
  } >"$dir/go.mod"
}

# Kubernetes' COMMANDs (kubectl, kubelet, ...) of KUBERNETES_VERSION into OUT,
# through a wrapper module in SRC (k8s.io/kubernetes replaces its staging
# modules with local paths), with the version flags of its release.
build_kubernetes() { # SRC OUT COMMAND...
  local src=$1 out=$2 k8s=$KUBERNETES_VERSION minor commit flags="" package
  shift 2
  minor=${k8s#v1.}; minor=${minor%%.*}
  wrapper_module "$src" k8s.io/kubernetes "$k8s" "v0.${k8s#v1.}"
  commit=$(module_info "k8s.io/kubernetes@$k8s")
  commit=${commit#* }
  for package in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    flags+=" -X $package.gitVersion=$k8s -X $package.gitMajor=1 -X $package.gitMinor=$minor"
    flags+=" -X $package.gitCommit=${commit:-unknown} -X $package.gitTreeState=clean"
    flags+=" -X $package.buildDate=1970-01-01T00:00:00Z"
  done
  (cd "$src" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build "${go_build_flags[@]}" -ldflags "-s -w$flags" -o "$out/" \
    "${@/#/k8s.io/kubernetes/cmd/}")
}
