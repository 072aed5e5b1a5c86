#!/usr/bin/env bash
# The main job: build the Stook live ISO (cached) and install one node into a local QEMU VM,
# unattended, exactly as a PXE/USB install would: the live kernel boots with boot=live and
# stook.install.* arguments, fetches its install config from an HTTP server on this host, installs
# onto a blank OS disk + a data disk, reboots; then the installed disk is booted and reached by SSH.
#   scripts/main.sh [--version V] [--pxe] [--memory MIB] [--prebuilt DIR] [--dry-run]
#     --pxe      boot like PXE: live-boot fetches the OS image over HTTP (fetch=) instead of the ISO
#     --prebuilt use build-iso.sh --pxe output in DIR instead of building into build/iso
#     --dry-run  only plan the install of a bundled example on a bundled machine profile (no VM)
# Sets itself up on a fresh Debian 12 (scripts/bootstrap.sh base build); the build needs root.
# Output and logs in build/main/. Environment: STOOK_MAIN_INSTALL_TIMEOUT (s, default 2400),
# STOOK_MAIN_BOOT_TIMEOUT (s, default 900), STOOK_QEMU_ACCEL (default tcg).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VERSION="${STOOK_VERSION:-0.0.0-dev}"
MODE=iso
MEMORY=2048
DRY_RUN=0
PREBUILT=""
usage() { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
while (($#)); do
  case "$1" in
    --version) VERSION="$2"; shift 2 ;;
    --pxe) MODE=pxe; shift ;;
    --memory) MEMORY="$2"; shift 2 ;;
    --dry-run) DRY_RUN=1; shift ;;
    --prebuilt) PREBUILT="$(cd "$2" && pwd)"; shift 2 ;;
    -h|--help) usage ;;
    *) echo "main: unknown argument $1" >&2; usage ;;
  esac
done
log() { printf '\033[1m[main]\033[0m %s\n' "$*" >&2; }
now() { date +%s; }

if ((DRY_RUN)); then
  scripts/bootstrap.sh base
  exec .venv/bin/stook-installer --automatic --dry-run \
    --machine installer/stook_installer/profiles/os-and-data.json \
    --config installer/stook_installer/examples/create.yaml
fi

# --- 1. Tools, then the live ISO and PXE artifacts (cached: rebuilt only when inputs change) ----
scripts/bootstrap.sh base build
SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
t0=$(now)
OUT="${PREBUILT:-$ROOT/build/iso}"
[[ -n $PREBUILT ]] || $SUDO iso-build/build-iso.sh --version "$VERSION" --out "$OUT" --pxe
t_build=$(($(now) - t0))
ISO="$OUT/stook-$VERSION.iso"
PXE="$OUT/pxe"
for file in "$ISO" "$PXE/vmlinuz" "$PXE/initrd.img" "$PXE/filesystem.squashfs"; do
  [[ -f $file ]] || { log "missing $file (iso-build/build-iso.sh --version $VERSION --pxe)"; exit 2; }
done

# --- 2. A run directory: SSH key, install config, disks ---------------------------------------
RUN="$ROOT/build/main"
rm -rf "$RUN"
mkdir -p "$RUN/http"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
HTTP_PORT="$(free_port)"
SSH_PORT="$(free_port)"
ssh-keygen -q -t ed25519 -N '' -C "stook-main@$(hostname)" -f "$RUN/id_ed25519"
MAC1=52:54:00:5e:00:01
MAC2=52:54:00:5e:00:02
cat >"$RUN/http/node.yaml" <<YAML
# Written by scripts/main.sh for one QEMU node: the first node of a new cluster.
apiVersion: stook.io/v1beta1
kind: InstallConfig
install:
  mode: create
  hostname: stook-node1
  ssh_authorized_keys:
    - $(cat "$RUN/id_ed25519.pub")
  token: $(head -c 18 /dev/urandom | base64 | tr '+/' 'Ab')
  vip: 10.0.2.100
  install_disk: {serial: STOOK-OS}
  data_disk: {serial: STOOK-DATA}
  management_interface:
    nics: ["$MAC1", "$MAC2"]
    bond: {mode: active-backup, miimon: 100}
    method: dhcp
  dns_servers: [10.0.2.3]
  after_install: reboot
YAML
.venv/bin/stook-installer validate "$RUN/http/node.yaml" >/dev/null
qemu-img create -q -f qcow2 "$RUN/os.qcow2" 64G
qemu-img create -q -f qcow2 "$RUN/data.qcow2" 64G

# --- 3. Host services; everything is stopped on exit ------------------------------------------
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM
if [[ $MODE == pxe ]]; then
  for file in vmlinuz initrd.img filesystem.squashfs stook.ipxe; do ln -s "$PXE/$file" "$RUN/http/$file"; done
fi
python3 -m http.server --bind 127.0.0.1 --directory "$RUN/http" "$HTTP_PORT" \
  >"$RUN/http.log" 2>&1 &
pids+=($!)
SERVER="10.0.2.2:$HTTP_PORT"   # the host's 127.0.0.1 as the guest sees it (QEMU user networking)

ACCEL="${STOOK_QEMU_ACCEL:-tcg}"
[[ $ACCEL == tcg ]] && ACCEL="tcg,thread=multi"
qemu_base=(
  qemu-system-x86_64 -accel "$ACCEL" -m "$MEMORY" -smp 2 -display none -monitor none
  -no-reboot -nodefaults -vga none
  -drive "file=$RUN/os.qcow2,format=qcow2,if=none,id=os,cache=unsafe"
  -device virtio-blk-pci,drive=os,serial=STOOK-OS
  -drive "file=$RUN/data.qcow2,format=qcow2,if=none,id=data,cache=unsafe"
  -device virtio-blk-pci,drive=data,serial=STOOK-DATA
  # Both NICs on one switch (a QEMU hub with the user-mode network as uplink), as in a rack:
  # with a separate user network per NIC, the bond's backup port would get the SSH forward.
  -netdev "user,id=uplink,hostfwd=tcp:127.0.0.1:$SSH_PORT-:22"
  -netdev hubport,id=hub-uplink,hubid=0,netdev=uplink
  -netdev hubport,id=n1,hubid=0 -device "virtio-net-pci,netdev=n1,mac=$MAC1"
  -netdev hubport,id=n2,hubid=0 -device "virtio-net-pci,netdev=n2,mac=$MAC2"
)
# Stream the guest's serial console (without terminal escapes) while QEMU process $1 runs.
stream() {
  tail --pid="$1" -n +1 -F "$2" 2>/dev/null \
    | sed -u -e 's/\x1b\[[0-9;?]*[A-Za-z]//g' -e 's/\r//g' -e "s/^/  $3| /"
}
# Run QEMU (args...) with a timeout, streaming its serial log $serial. Returns QEMU's status,
# 124 on timeout, 125 when the live installer reported a failure (QEMU is stopped then).
run_vm() {
  local seconds="$1" label="$2"; shift 2
  : >"$serial"
  "${qemu_base[@]}" -serial "file:$serial" "$@" >"$serial.qemu" 2>&1 &
  local qemu=$!
  pids+=("$qemu")
  stream "$qemu" "$serial" "$label" &
  local streamer=$!
  local deadline=$(($(now) + seconds)) rc=0
  while kill -0 "$qemu" 2>/dev/null && (($(now) < deadline)); do
    if grep -q "stook-live-install: installer exited with status [1-9]" "$serial"; then
      sleep 2; rc=125; break
    fi
    sleep 2
  done
  if kill -0 "$qemu" 2>/dev/null; then
    kill "$qemu"; wait "$qemu" 2>/dev/null || true; ((rc)) || rc=124
  else
    wait "$qemu" || rc=$?
  fi
  wait "$streamer" 2>/dev/null || true
  return "$rc"
}

# --- 4. Unattended install from the live kernel --------------------------------------------------
cmdline="quiet console=ttyS0,115200 stook.install.automatic stook.install.confirm_erase"
cmdline+=" stook.install.config_url=http://$SERVER/node.yaml"
if [[ $MODE == pxe ]]; then
  live=(-kernel "$PXE/vmlinuz" -initrd "$PXE/initrd.img"
        -append "boot=live fetch=http://$SERVER/filesystem.squashfs $cmdline")
  log "installing from the PXE artifacts served at http://127.0.0.1:$HTTP_PORT (live-boot fetch=)"
else
  live=(-kernel "$PXE/vmlinuz" -initrd "$PXE/initrd.img" -append "boot=live $cmdline"
        -drive "file=$ISO,format=raw,if=ide,media=cdrom,readonly=on")
  log "installing from $(basename "$ISO") (live kernel booted directly, ISO as CD-ROM)"
fi
log "config: http://$SERVER/node.yaml ($RUN/http/node.yaml); accelerator $ACCEL; guest console follows"
serial="$RUN/install-serial.log"
t0=$(now)
rc=0
run_vm "${STOOK_MAIN_INSTALL_TIMEOUT:-2400}" install "${live[@]}" || rc=$?
t_install=$(($(now) - t0))
if ((rc == 125)); then
  log "FAILED: the installer in the VM reported a failure (above); serial log $serial"
  exit 1
fi
if ((rc == 124)); then
  log "FAILED: the install did not finish within ${STOOK_MAIN_INSTALL_TIMEOUT:-2400} s; serial log $serial"
  exit 1
fi
if ! grep -q "Install complete" "$serial"; then
  log "FAILED: the VM stopped (QEMU status $rc) without completing the install; serial log $serial"
  exit 1
fi
log "install complete in ${t_install} s (build ${t_build} s); the VM rebooted"

# --- 5. Boot the installed disk and wait for SSH -------------------------------------------------
ssh_cmd=(ssh -i "$RUN/id_ed25519" -p "$SSH_PORT" -o BatchMode=yes -o StrictHostKeyChecking=no
         -o UserKnownHostsFile=/dev/null -o ConnectTimeout=5 -o LogLevel=ERROR stook@127.0.0.1)
serial="$RUN/boot-serial.log"
boot_timeout="${STOOK_MAIN_BOOT_TIMEOUT:-900}"
log "booting the installed disk; waiting up to $boot_timeout s for SSH on 127.0.0.1:$SSH_PORT"
: >"$serial"
t0=$(now)
"${qemu_base[@]}" -serial "file:$serial" >"$serial.qemu" 2>&1 &
qemu=$!
pids+=("$qemu")
stream "$qemu" "$serial" node &
streamer=$!
deadline=$(($(now) + boot_timeout))
reached=0
while (($(now) < deadline)) && kill -0 "$qemu" 2>/dev/null; do
  if "${ssh_cmd[@]}" true 2>/dev/null; then reached=1; break; fi
  sleep 5
done
if ((!reached)); then
  why="not within $boot_timeout s"
  kill -0 "$qemu" 2>/dev/null || why="the VM stopped"
  log "The node was installed, but SSH did not answer ($why). The installed node's boot chain"
  log "(boot=stook initramfs, health checks) decides this; its console log: $serial"
  exit 1
fi
log "SSH answered $(($(now) - t0)) s after power-on"
"${ssh_cmd[@]}" 'grep PRETTY_NAME /etc/os-release; hostname; ip -br addr' | sed 's/^/  ssh| /' || true
# The node keeps running after this job: stop following its console, keep QEMU.
pkill -P "$streamer" 2>/dev/null || true
kept=()
for pid in "${pids[@]}"; do [[ $pid == "$qemu" ]] || kept+=("$pid"); done
pids=("${kept[@]}")
echo "$qemu" >"$RUN/qemu.pid"
cat <<EOF

The node is installed and running (install ${t_install} s under ${ACCEL%%,*}; serial console $serial).
Reach it with:
  ${ssh_cmd[*]}
Stop the VM with:
  kill $qemu
EOF
