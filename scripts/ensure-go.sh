#!/usr/bin/env bash
# Make a Go toolchain new enough for the go.mod files under tools/ available as .venv/bin/go.
# Debian 12's golang-go (1.19) is too old for the pinned Kubernetes modules, so when the machine's
# Go is older than needed, the official toolchain is fetched from the Go module proxy (the
# golang.org/toolchain module, as `go` itself does with GOTOOLCHAIN) and cached in ~/.cache/stook/go.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
log() { printf '\033[1m[go]\033[0m %s\n' "$*" >&2; }

# The highest `go` directive of the project's Go modules.
need="$(awk '$1 == "go" {print $2}' "$ROOT"/tools/*/*/go.mod 2>/dev/null | sort -V | tail -1)"
[[ -n $need ]] || exit 0
version_ok() { [[ "$(printf '%s\n%s\n' "$need" "$1" | sort -V | head -1)" == "$need" ]]; }

if command -v go >/dev/null 2>&1; then
  have="$(GOTOOLCHAIN=local go env GOVERSION 2>/dev/null | sed 's/^go//')"
  if version_ok "$have"; then exit 0; fi
  log "machine Go $have is older than the $need the tools need"
fi

arch="$(dpkg --print-architecture 2>/dev/null || echo amd64)"
proxy="${GOPROXY:-https://proxy.golang.org}"
proxy="${proxy%%,*}"
[[ $proxy == direct || $proxy == off ]] && proxy="https://proxy.golang.org"
# Newest patch release of the needed minor version that the proxy lists.
minor="$(cut -d. -f1,2 <<<"$need")"
release="$(curl -fsSL --retry 3 "$proxy/golang.org/toolchain/@v/list" |
  sed -n "s/^v0\.0\.1-go\($minor\(\.[0-9]*\)\?\)\.linux-$arch$/\1/p" | sort -V | tail -1)"
[[ -n $release ]] || { log "the Go proxy lists no go$minor toolchain for linux-$arch"; exit 1; }
version_ok "$release" || { log "newest listed go$release is older than $need"; exit 1; }

cache="${XDG_CACHE_HOME:-$HOME/.cache}/stook/go/go$release"
if [[ ! -x $cache/bin/go ]]; then
  log "fetching go$release (linux-$arch) from $proxy"
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  curl -fsSL --retry 3 -o "$tmp/go.zip" "$proxy/golang.org/toolchain/@v/v0.0.1-go$release.linux-$arch.zip"
  python3 - "$tmp/go.zip" "$tmp/out" <<'PY'
import os, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as archive:
    for info in archive.infolist():
        path = archive.extract(info, sys.argv[2])
        mode = info.external_attr >> 16
        if mode:
            os.chmod(path, mode)
PY
  mkdir -p "$(dirname "$cache")"
  rm -rf "$cache"
  mv "$tmp/out"/golang.org/toolchain@*/ "$cache"
fi
for tool in go gofmt; do
  cat >"$ROOT/.venv/bin/$tool" <<SH
#!/bin/sh
GOROOT="$cache" GOTOOLCHAIN=local exec "$cache/bin/$tool" "\$@"
SH
  chmod +x "$ROOT/.venv/bin/$tool"
done
log "using go$release from $cache (via .venv/bin/go)"
