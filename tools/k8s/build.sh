#!/usr/bin/env bash
# Build the Go tools pinned in tools/k8s/<module>/go.mod (its `tool` directives) with the machine's
# Go, once: the binaries are cached under ${XDG_CACHE_HOME:-~/.cache}/stook/k8s/<module>-<key>/bin,
# keyed by go.mod + go.sum + the Go version, so a second run returns at once.
# Prints the bin directory on stdout; progress goes to stderr.
#   tools/k8s/build.sh apiserver    kube-apiserver + etcd (test API server, reference.md section 8)
#   tools/k8s/build.sh chart        helm + kubeconform (chart checks)
#   tools/k8s/build.sh kubevirt     controller-gen, then <module>/generate.sh: KubeVirt's and CDI's
#                                   CRDs under <module>-<key>/crds (their real schemas)
# A module with a generate.sh runs it after the build (BIN_DIR OUT_DIR); it is part of the key.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
module="${1:?usage: tools/k8s/build.sh apiserver|chart|kubevirt}"
src="$HERE/$module"
[[ -f $src/go.mod ]] || { echo "build.sh: no module $src/go.mod" >&2; exit 2; }
command -v go >/dev/null || {
  echo "build.sh: Go is not on PATH; install it (scripts/bootstrap.sh test installs golang-go)" >&2
  exit 1
}
log() { printf '\033[1m[k8s-tools]\033[0m %s\n' "$*" >&2; }

generate=()
[[ -f $src/generate.sh ]] && generate=("$src/generate.sh")
key="$(cat "$src/go.mod" "$src/go.sum" "${generate[@]}" <(go env GOVERSION GOOS GOARCH) | sha256sum | cut -c1-16)"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/stook/k8s"
out="$cache/$module-$key"
if [[ -f $out/.complete ]]; then
  echo "$out/bin"
  exit 0
fi
mkdir -p "$cache"
exec 9>"$cache/$module.lock"
flock 9  # another build of the same module (setup.d vs a pytest fixture) finishes first
if [[ -f $out/.complete ]]; then
  echo "$out/bin"
  exit 0
fi

cd "$src"
# `tool (` ... `)` blocks, or a single `tool path` line (go mod tidy's form for one tool).
mapfile -t tools < <(sed -n -e '/^tool (/,/^)/{/^tool (/d;/^)/d;p;}' -e 's/^tool \([^(].*\)$/\1/p' go.mod | tr -d '\t ')
((${#tools[@]})) || { echo "build.sh: $src/go.mod declares no tools" >&2; exit 2; }
# Version stamps, as the upstream release builds set them (kube-apiserver's emulation version and
# /version follow gitVersion; helm prints its version).
ldflags="-s -w"
if kube="$(go list -m -f '{{.Version}}' k8s.io/kubernetes 2>/dev/null)" && [[ -n $kube ]]; then
  minor="$(cut -d. -f2 <<<"$kube")"
  ldflags+=" -X k8s.io/component-base/version.gitVersion=$kube"
  ldflags+=" -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor"
  ldflags+=" -X k8s.io/component-base/version.gitTreeState=clean"
fi
if helmv="$(go list -m -f '{{.Version}}' helm.sh/helm/v3 2>/dev/null)" && [[ -n $helmv ]]; then
  ldflags+=" -X helm.sh/helm/v3/internal/version.version=$helmv"
fi

tmp="$(mktemp -d "$cache/.build-$module.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
start=$SECONDS
for tool in "${tools[@]}"; do
  log "building $tool ($module, cache key $key)"
  CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$tmp/bin/" "$tool"
done
# go names the etcd server's binary after its module path (go.etcd.io/etcd/server/v3): "server".
if [[ -x $tmp/bin/server ]]; then mv "$tmp/bin/server" "$tmp/bin/etcd"; fi
if ((${#generate[@]})); then
  log "generating with $module/generate.sh"
  bash "${generate[0]}" "$tmp/bin" "$tmp"
fi
chmod 755 "$tmp"
touch "$tmp/.complete"
rm -rf "$out"
mv "$tmp" "$out"
trap - EXIT
log "built ${tools[*]} in $((SECONDS - start)) s into $out/bin"
echo "$out/bin"
