#!/usr/bin/env bash
# `make release`: the one way a version of friendlyhello is published, the
# same here and in .github/workflows/release.yaml. For VERSION, to REGISTRY:
#   - the image for each of PLATFORMS, built on the host's own base (the
#     Dockerfile assembles another platform's image without running it),
#     pushed by digest and joined in one image index
#     REGISTRY/friendlyhello:VERSION;
#   - an SPDX SBOM of each platform's image (syft), attached to it as a signed
#     attestation (cosign attest);
#   - a cosign signature of the index, by digest;
#   - the chart, version = appVersion = VERSION, its image pinned to the
#     index's digest, pushed as oci://REGISTRY/charts/friendlyhello and
#     signed by digest the same way;
# then prints the commands that install and verify what it pushed, and
# writes them, with the digests and the release notes, to
# build/release/VERSION/ beside the SBOMs and the chart's .tgz.
# A VERSION the registry holds already is refused (FORCE=1 overwrites), and
# so is one chart/CHANGELOG.md says nothing about, or that the chart or the
# app does not carry.
#
# Signing: with COSIGN_KEY (a cosign key file, its .pub beside it;
# COSIGN_PASSWORD its password) or, in the GitHub workflow only, keyless
# (Sigstore's OIDC flow with the workflow's token). TLOG=0 signs without a transparency log, for a registry that
# only this machine sees; verifying then needs --insecure-ignore-tlog.
# A registry on loopback is spoken to over plain HTTP.
# usage: hack/release.sh REGISTRY VERSION
#   REGISTRY: host[:port][/path], e.g. ghcr.io/OWNER or localhost:5001
#   environment: PLATFORMS (default linux/amd64,linux/arm64), COSIGN_KEY,
#   COSIGN_PASSWORD, TLOG=0, FORCE=1, SOURCE (the repository's URL, for the
#   image's labels)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$root"
[ $# -eq 2 ] || { echo "usage: hack/release.sh REGISTRY VERSION" >&2; exit 2; }
registry=${1%/}
version=$2
platforms=${PLATFORMS:-linux/amd64,linux/arm64}

[[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$ ]] \
  || die "VERSION must be a semantic version X.Y.Z[-pre], not '$version'"
[[ $registry =~ ^[A-Za-z0-9.-]+(:[0-9]+)?(/[a-z0-9._/-]+)?$ ]] \
  || die "REGISTRY must be host[:port][/path], not '$registry'"
grep -qxF "## $version" chart/CHANGELOG.md \
  || die "chart/CHANGELOG.md has no '## $version' section: say what changed, and how to upgrade, first"
# One version everywhere: the image's APP_VERSION, the app's own and the chart's.
for source in "chart/Chart.yaml version:$(sed -n 's/^version: //p' chart/Chart.yaml)" \
              "app/__init__.py __version__:$(app_version)"; do
  [ "${source#*:}" = "$version" ] || die "VERSION is $version but ${source%:*} is ${source#*:}: bump it first"
done

image_repository="$registry/$IMAGE_REPOSITORY"
chart_repository="$registry/charts"
chart_name=$(sed -n 's/^name: //p' chart/Chart.yaml)
out="$root/build/release/$version"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# What each client needs to speak plain HTTP to a registry on loopback.
host=${registry%%/*}
helm_flags=() cosign_flags=()
if [[ ${host%:*} == localhost || ${host%:*} == 127.0.0.1 ]]; then
  helm_flags=(--plain-http)
  cosign_flags=(--allow-http-registry)
fi
sign_flags=(--yes "${cosign_flags[@]}")
verify_flags=("${cosign_flags[@]}")
if [ -n "${COSIGN_KEY:-}" ]; then
  [ -f "$COSIGN_KEY" ] || die "COSIGN_KEY names no file: $COSIGN_KEY"
  [ -f "${COSIGN_KEY%.key}.pub" ] || die "no public key beside COSIGN_KEY: ${COSIGN_KEY%.key}.pub"
  sign_flags+=(--key "$COSIGN_KEY")
  verify_flags+=(--key "${COSIGN_KEY%.key}.pub")
elif [ "${GITHUB_ACTIONS:-}" = true ]; then
  # Keyless: the signing certificate names the workflow run of this tag.
  verify_flags+=(--certificate-identity "$GITHUB_SERVER_URL/$GITHUB_REPOSITORY/.github/workflows/release.yaml@refs/tags/v$version"
                 --certificate-oidc-issuer https://token.actions.githubusercontent.com)
else
  die "set COSIGN_KEY (and COSIGN_PASSWORD) to sign: keyless signing runs in .github/workflows/release.yaml"
fi
case ${TLOG:-1} in
  0) sign_flags+=(--use-signing-config=false --tlog-upload=false); verify_flags+=(--insecure-ignore-tlog=true) ;;
  1) ;;
  *) die "TLOG must be 0 (no transparency log) or 1, not '$TLOG'" ;;
esac

# Releases are immutable: a tag the registry has is not pushed again.
exists() { # REFERENCE
  local message
  if message=$(crane digest "$1" 2>&1); then return 0; fi
  grep -qiE 'MANIFEST_UNKNOWN|NAME_UNKNOWN|not found|404' <<<"$message" && return 1
  die "cannot ask the registry about $1: $(tail -n 1 <<<"$message")"
}
for reference in "$image_repository:$version" "$chart_repository/$chart_name:$version"; do
  if exists "$reference"; then
    [ "${FORCE:-}" = 1 ] || die "$reference exists: releases are immutable (FORCE=1 pushes over it)"
    log "$reference exists: pushing over it (FORCE=1)"
  fi
done

mkdir -p "$out"
revision=$(git rev-parse HEAD)
# A tree with uncommitted changes is not that commit: the label says so.
git diff --quiet HEAD -- || revision="$revision-dirty"
created=$(git log -1 --format=%cI HEAD)
source_url=${SOURCE:-$(sed -n 's/^home: //p' chart/Chart.yaml)}
build_args=(--build-arg "VERSION=$version" --build-arg "REVISION=$revision" --build-arg "CREATED=$created"
            --build-arg "SOURCE=$source_url")
ca=${BUILD_CA_BUNDLE:-${SSL_CERT_FILE:-}}
[ -n "$ca" ] && [ -f "$ca" ] && build_args+=(--secret "id=ca,src=$ca")

manifests=()
base=$(image_for base)
for platform in ${platforms//,/ }; do
  arch=${platform#linux/}
  local_ref="$IMAGE_REPOSITORY:$version-release-$arch"
  log "$platform: building on $base"
  start=$SECONDS
  docker_build --progress=plain --platform "$platform" --build-arg "BASE_IMAGE=$base" "${build_args[@]}" \
    --tag "$local_ref" . >"$work/build-$arch.log" 2>&1 \
    || { tail -n 30 "$work/build-$arch.log" >&2; die "$platform: image build failed"; }
  built=$(docker image inspect -f '{{.Os}}/{{.Architecture}}' "$local_ref")
  [ "$built" = "$platform" ] || die "$platform: the build gave a $built image"
  log "$platform: built in $((SECONDS - start)) s ($(docker image inspect -f '{{.Size}}' "$local_ref" | numfmt --to=si)B)"
  docker save -o "$work/$arch.tar" "$local_ref"
  docker rmi "$local_ref" >/dev/null
  digest=$(crane digest --tarball "$work/$arch.tar")
  crane push "$work/$arch.tar" "$image_repository@$digest" >/dev/null 2>"$work/push.log" \
    || { cat "$work/push.log" >&2; die "$platform: push failed"; }
  log "$platform: pushed $image_repository@$digest; SBOM (syft)"
  syft scan "docker-archive:$work/$arch.tar" --quiet --source-name "$image_repository" --source-version "$version" \
    -o "spdx-json=$out/sbom-$arch.spdx.json"
  rm "$work/$arch.tar"
  cosign attest "${sign_flags[@]}" --type spdxjson --predicate "$out/sbom-$arch.spdx.json" \
    "$image_repository@$digest" >/dev/null 2>"$work/attest.log" \
    || { cat "$work/attest.log" >&2; die "$platform: cosign attest failed"; }
  manifests+=(--manifest "$image_repository@$digest")
  echo "$arch $digest" >>"$work/platforms"
done

# What is signed is the digest crane wrote, never what a tag points to later.
index_ref=$(crane index append "${manifests[@]}" --tag "$image_repository:$version" 2>"$work/index.log") \
  || { cat "$work/index.log" >&2; die "crane index append failed"; }
index_digest=${index_ref##*@}
[[ $index_digest =~ ^sha256:[0-9a-f]{64}$ ]] || die "crane index append printed no digest: $index_ref"
# --recursive: each platform's image is signed too, for those who verify by its own digest.
cosign sign "${sign_flags[@]}" --recursive "$image_repository@$index_digest" >/dev/null 2>"$work/sign.log" \
  || { cat "$work/sign.log" >&2; die "cosign sign of the image failed"; }
log "image: $image_repository:$version = $index_digest ($platforms), signed"

# The chart as released: this version, its image the index above by digest.
cp -r chart "$work/chart"
"$root/.venv/bin/python" hack/chart_values.py "$work/chart/values.yaml" \
  "image.repository=$image_repository" "image.tag=$version" "image.digest=$index_digest"
rm -f "$out/$chart_name-$version.tgz"
helm package "$work/chart" --version "$version" --app-version "$version" --destination "$out" >/dev/null
pushed=$(helm push "$out/$chart_name-$version.tgz" "oci://$chart_repository" "${helm_flags[@]}" 2>&1) \
  || { echo "$pushed" >&2; die "helm push failed"; }
chart_digest=$(sed -nE 's/^Digest: (sha256:[0-9a-f]{64})$/\1/p' <<<"$pushed")
[ -n "$chart_digest" ] || die "helm push printed no digest: $pushed"
cosign sign "${sign_flags[@]}" "$chart_repository/$chart_name@$chart_digest" >/dev/null 2>"$work/sign.log" \
  || { cat "$work/sign.log" >&2; die "cosign sign of the chart failed"; }
log "chart: oci://$chart_repository/$chart_name --version $version = $chart_digest, signed"

{
  echo "VERSION=$version"
  echo "IMAGE=$image_repository:$version"
  echo "IMAGE_DIGEST=$index_digest"
  while read -r arch digest; do echo "IMAGE_DIGEST_${arch^^}=$digest"; done <"$work/platforms"
  echo "CHART=oci://$chart_repository/$chart_name"
  echo "CHART_DIGEST=$chart_digest"
} >"$out/release.env"
{
  echo "helm install $chart_name oci://$chart_repository/$chart_name --version $version${helm_flags[*]:+ ${helm_flags[*]}}"
  for reference in "$image_repository@$index_digest" "$chart_repository/$chart_name@$chart_digest"; do
    echo "cosign verify ${verify_flags[*]} $reference"
  done
} >"$out/commands.txt"
# The GitHub release's notes: this version's CHANGELOG section, then the commands.
{
  sed -n "/^## $version\$/,/^## /{/^## /!p}" chart/CHANGELOG.md
  printf '\nInstall and verify:\n\n```sh\n'
  cat "$out/commands.txt"
  printf '```\n'
} >"$out/notes.md"
log "released $version: install and verify with (also in ${out#"$root"/}/commands.txt)"
sed 's/^/    /' "$out/commands.txt" >&2
