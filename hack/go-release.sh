# Sourced by hack/tools.sh and by the stand-in images built from one Go
# program, on top of hack/go-build.sh: how each
# program's release is built (its version flags, build tags and module
# version), so a build from its module behaves like the released binary.
# shellcheck shell=bash

# The -X flags of each Go program's release build (from its Makefile or goreleaser
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
    cosign) echo "-buildid= -X sigs.k8s.io/release-utils/version.gitVersion=$version" \
      "-X sigs.k8s.io/release-utils/version.gitCommit=$commit" \
      "-X sigs.k8s.io/release-utils/version.gitTreeState=clean -X sigs.k8s.io/release-utils/version.buildDate=$date" ;;
    crane) echo "-X github.com/google/go-containerregistry/cmd/crane/cmd.Version=$version" \
      "-X github.com/google/go-containerregistry/pkg/v1/remote/transport.Version=$version" ;;
    syft) echo "-X main.version=${version#v} -X main.gitCommit=$commit -X main.buildDate=$date" \
      "-X main.gitDescription=$version" ;;
    kube-score) echo "-X main.version=${version#v} -X main.commit=$commit -X main.date=$date" ;;
    # Prometheus and its operator (promu and the operator's Makefile set the same
    # variables of prometheus/common; the operator's version has no "v").
    promtool | prometheus | prometheus-operator | prometheus-config-reloader)
      echo "-X github.com/prometheus/common/version.Version=${version#v}" \
      "-X github.com/prometheus/common/version.Revision=$commit -X github.com/prometheus/common/version.Branch=HEAD" \
      "-X github.com/prometheus/common/version.BuildUser=friendlyhello" \
      "-X github.com/prometheus/common/version.BuildDate=$date" ;;
    metrics-server) echo "-X k8s.io/client-go/pkg/version.gitVersion=$version" \
      "-X k8s.io/client-go/pkg/version.gitCommit=$commit -X k8s.io/client-go/pkg/version.buildDate=$date" ;;
  esac
}

# The build tags of a program's release build, where it has any.
release_tags() { # NAME
  case $1 in
    syft) echo "containers_image_openpgp,exclude_graphdriver_btrfs" ;;
    promtool) echo "netgo,builtinassets" ;;
    # The release also embeds the web UI (builtinassets), which npm builds and
    # the module does not carry: this Prometheus serves its API, not the UI.
    prometheus) echo "netgo" ;;
  esac
}

# The version of a program's Go module: its release's, but for Prometheus, whose
# v3.X.Y is published as the module's v0.(300+X).Y.
module_version() { # NAME VERSION
  local major minor patch
  case $1 in
    promtool | prometheus) IFS=. read -r major minor patch <<<"${2#v}"; echo "v0.$((major * 100 + minor)).$patch" ;;
    *) echo "$2" ;;
  esac
}

# Each program is built inside its own module, fetched into Go's module cache
# through the module proxy: the module's replace/exclude lines then apply
# (`go install pkg@version` refuses such modules) and its go.sum pins the
# build. kubectl's module replaces its staging modules with local paths: it
# is built through a wrapper module (hack/go-build.sh).
build() { # NAME MODULE PACKAGE VERSION OUTPUT
  local name=$1 module=$2 package=$3 version=$4 output=$5 dir commit date info
  if [ "$name" = kubectl ]; then
    build_kubernetes "$root/.tools/src/kubernetes-$version" "$(dirname "$output")" kubectl
    return
  fi
  local at wrapper
  at="$module@$(module_version "$name" "$version")"
  info=$(module_info "$at") || return 1
  read -r dir commit <<<"$info"
  date=$(module_time "$at")
  [ -d "$dir" ] || { echo "go mod download gave no directory for $at"; return 1; }
  if [ -n "$(published_replaces "$dir/go.mod" "${at#*@}")" ]; then
    # Its go.mod points modules nested in it at their directories, which its
    # zip leaves out: built through a wrapper module that takes their
    # published versions (hack/go-build.sh).
    wrapper="$root/.tools/src/$name-$version"
    wrapper_module "$wrapper" "$module" "${at#*@}" "${at#*@}"
    (cd "$wrapper" && GOWORK=off CGO_ENABLED=0 GOFLAGS=-mod=mod go build "${go_build_flags[@]}" -tags "$(release_tags "$name")" \
      -ldflags "-s -w $(release_ldflags "$name" | tr '\n' ' ')" -o "$output" "$module/$package")
    return
  fi
  # GOWORK=off: a go.work in a module (Prometheus ships one) names modules its zip lacks.
  (cd "$dir" && GOWORK=off CGO_ENABLED=0 go build -mod=readonly "${go_build_flags[@]}" -tags "$(release_tags "$name")" \
    -ldflags "-s -w $(release_ldflags "$name" | tr '\n' ' ')" -o "$output" "./$package")
}
