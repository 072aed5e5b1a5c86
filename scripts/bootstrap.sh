#!/usr/bin/env bash
# Prepare a fresh Debian 12 machine for Stook development: apt packages, a venv in .venv,
# and the project installed editable with its dev extras. Idempotent and quick when done.
# Usage: scripts/bootstrap.sh [apt-profile...]   (profiles: base test build)
#        scripts/bootstrap.sh --list [apt-profile...]   only print the profiles' Debian packages
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

log() { printf '\033[1m[bootstrap]\033[0m %s\n' "$*" >&2; }

# Debian packages per purpose; one list, read by every entry point.
APT_BASE=(python3 python3-venv python3-dev ca-certificates git curl)
APT_TEST=(util-linux fdisk xorriso gdisk dosfstools e2fsprogs parted squashfs-tools iproute2 kmod
          qemu-system-x86 qemu-utils ovmf openssh-client grub-common mmdebstrap
          grub-pc-bin grub-efi-amd64-bin grub2-common mtools systemd
          chromium  # chromium: the console tests (Playwright drives /usr/bin/chromium)
          dnsmasq-base nginx ipxe ipxe-qemu  # the playbooks' PXE server (tests/*/test_pxe*, test_fleet)
          vagrant vagrant-libvirt)  # the fleet lab's Vagrantfile: `vagrant validate` in the tests
APT_BUILD=(mmdebstrap squashfs-tools xorriso grub-pc-bin grub-efi-amd64-bin mtools
           dosfstools qemu-system-x86 qemu-utils ovmf openssh-client
           grub2-common gdisk parted e2fsprogs)

list_only=false
if [[ ${1:-} == --list ]]; then
  list_only=true
  shift
fi
want=("${APT_BASE[@]}")
for profile in "$@"; do
  case "$profile" in
    base) ;;
    test) want+=("${APT_TEST[@]}") ;;
    build) want+=("${APT_BUILD[@]}") ;;
    *) echo "bootstrap: unknown profile '$profile' (base, test, build)" >&2; exit 2 ;;
  esac
done

if $list_only; then
  printf '%s\n' "${want[@]}" | sort -u
  exit 0
fi

missing=()
for pkg in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  log "installing Debian packages: ${missing[*]}"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The venv uses Debian's python3 (>= 3.11 on Debian 12), not whatever shim is first on PATH.
PY=/usr/bin/python3
[[ -x $PY ]] || PY="$(command -v python3)"
if [[ ! -x .venv/bin/python ]]; then
  log "creating .venv with $($PY --version)"
  "$PY" -m venv .venv
fi
stamp=".venv/.stook-installed"
digest="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [[ ! -f $stamp || "$(cat "$stamp")" != "$digest" ]]; then
  log "installing Python packages into .venv (pip install -e '.[dev]')"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e '.[dev]'
  echo "$digest" >"$stamp"
fi
# Go builds the test API server and chart tools (tools/k8s); make sure it is recent enough.
for profile in "$@"; do
  [[ $profile == test ]] && scripts/ensure-go.sh
done
log "ready: $ROOT/.venv"
