#!/usr/bin/env bash
# Build the Stook live ISO (hybrid: BIOS + UEFI, CD or USB stick) and, with --pxe, the PXE
# artifacts, from build-rootfs.sh's OS image. The ISO boots that same image with live-boot
# (boot=live) and the installer writes that very file into slot A.
#
#   iso-build/build-iso.sh [--version V] [--out DIR] [--from DIR] [--pxe] [--rke2-bundle DIR]
#
# Without --from it runs build-rootfs.sh (needs root) into --out, but only when its inputs changed.
# Output in --out (default build/iso): stook-<V>.iso and, with --pxe, pxe/ (vmlinuz, initrd.img,
# filesystem.squashfs, stook.ipxe). Needs xorriso, grub-pc-bin, grub-efi-amd64-bin, mtools
# (scripts/bootstrap.sh build).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HERE="$ROOT/iso-build"
# Bump when the ISO layout or GRUB menu changes in a way the inputs below do not show.
ISO_RECIPE=1
VERSION="0.0.0-dev"
OUT="$ROOT/build/iso"
FROM=""
PXE=0
RKE2_BUNDLE=""

usage() { sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
while (($#)); do
  case "$1" in
    --version) VERSION="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    --from) FROM="$2"; shift 2 ;;
    --pxe) PXE=1; shift ;;
    --rke2-bundle) RKE2_BUNDLE="$2"; shift 2 ;;
    -h|--help) usage ;;
    *) echo "build-iso: unknown argument $1" >&2; usage ;;
  esac
done
[[ $VERSION =~ ^[0-9A-Za-z][0-9A-Za-z.+~_-]{0,63}$ ]] \
  || { echo "build-iso: invalid --version '$VERSION'" >&2; exit 2; }
for cmd in grub-mkrescue xorriso mformat; do
  command -v "$cmd" >/dev/null || {
    echo "build-iso: $cmd missing: scripts/bootstrap.sh base build" >&2; exit 2; }
done
for platform in i386-pc x86_64-efi; do
  [[ -d /usr/lib/grub/$platform ]] || {
    echo "build-iso: GRUB $platform images missing: apt-get install -y grub-pc-bin grub-efi-amd64-bin" >&2
    exit 2; }
done

now() { date +%s.%N; }
elapsed() { printf '%.1f s' "$(echo "$(now) - $1" | bc -l 2>/dev/null || echo 0)"; }
log() { printf '\033[1m[build-iso]\033[0m %s\n' "$*" >&2; }
size() { du -sh --apparent-size "$1" | cut -f1; }
# Same content, no second copy: a hard link when possible.
link() { ln -f "$1" "$2" 2>/dev/null || cp --reflink=auto "$1" "$2"; }
t_start=$(now)
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"

# --- 1. The OS image: build-rootfs.sh, only when its inputs changed ---------------------------
# The key covers everything build-rootfs.sh reads from the repository (package list, overlay,
# Stook's sources and pyproject) and its options; the Debian mirror content is cached by
# build-rootfs.sh itself.
inputs_key() {
  {
    echo "version=$VERSION comp=${STOOK_SQUASHFS_COMP:-gzip} rke2=$RKE2_BUNDLE"
    echo "mirror=${STOOK_DEBIAN_MIRROR:-} security=${STOOK_DEBIAN_SECURITY_MIRROR:-}"
    [[ -n $RKE2_BUNDLE ]] && find "$RKE2_BUNDLE" -type f -printf '%P %s %T@\n' | sort
    cd "$ROOT"
    find pyproject.toml core installer node-agent iso-build/packages.txt iso-build/overlay \
      iso-build/build-rootfs.sh -type f ! -name '*.pyc' ! -path '*/__pycache__/*' \
      ! -path '*.egg-info/*' -print0 | sort -z | xargs -0 sha256sum
  } | sha256sum | cut -c1-16
}
t0=$(now)
if [[ -n $FROM ]]; then
  SRC="$(cd "$FROM" && pwd)"
  os_state="from $SRC"
else
  SRC="$OUT"
  key="$(inputs_key)"
  stamp="$OUT/.rootfs-key-$VERSION"
  if [[ -f $stamp && $(cat "$stamp") == "$key" && -f $OUT/stook-os-$VERSION.squashfs ]]; then
    log "OS image: up to date (inputs key $key)"
    os_state="cached"
  else
    log "OS image: building (inputs key $key)"
    args=(--version "$VERSION" --out "$OUT")
    [[ -n $RKE2_BUNDLE ]] && args+=(--rke2-bundle "$RKE2_BUNDLE")
    "$HERE/build-rootfs.sh" "${args[@]}"
    echo "$key" >"$stamp"
    os_state="built"
  fi
fi
image="$SRC/stook-os-$VERSION.squashfs"
kernel="$SRC/vmlinuz-$VERSION"
initrd="$SRC/initrd.img-$VERSION"
for file in "$image" "$kernel" "$initrd"; do
  [[ -f $file ]] || { echo "build-iso: $file missing (build-rootfs.sh --version $VERSION)" >&2; exit 2; }
done
t_os="$(elapsed "$t0")"

# --- 2. Kernel command lines -------------------------------------------------------------------
# live-boot finds /live/filesystem.squashfs on the medium and mounts the medium at
# /run/live/medium: the installer's default image (engine/image.py). Consoles: the screen and the
# first serial port; the last console= is /dev/console (kernel messages go to both).
CONSOLES="console=tty0 console=ttyS0,115200"
LIVE_ARGS="boot=live quiet $CONSOLES"
RESCUE_ARGS="boot=live $CONSOLES systemd.unit=stook-live-rescue.target"

# --- 3. ISO tree and image ---------------------------------------------------------------------
t0=$(now)
iso="$OUT/stook-$VERSION.iso"
staging="$OUT/iso-root"
grub_cfg="$(cat <<CFG
# Stook live medium $VERSION
serial --unit=0 --speed=115200
terminal_input console serial
terminal_output console serial
set timeout=5
set default=0
set menu_color_normal=white/black
set menu_color_highlight=black/light-gray

menuentry "Install Stook $VERSION" --id install {
  linux /live/vmlinuz $LIVE_ARGS
  initrd /live/initrd.img
}
menuentry "Rescue shell" --id rescue {
  linux /live/vmlinuz $RESCUE_ARGS
  initrd /live/initrd.img
}
CFG
)"
iso_key="$( { echo "recipe=$ISO_RECIPE version=$VERSION"; echo "$grub_cfg"
              sha256sum "$image" "$kernel" "$initrd" | cut -d' ' -f1
              dpkg-query -W grub-common xorriso 2>/dev/null || true
            } | sha256sum | cut -c1-16)"
if [[ -f $iso && -f $iso.key && $(cat "$iso.key") == "$iso_key" ]]; then
  log "ISO: up to date ($iso)"
  iso_state="cached"
else
  log "ISO: packing $(basename "$iso")"
  rm -rf "$staging"
  mkdir -p "$staging/live" "$staging/boot/grub"
  link "$image" "$staging/live/filesystem.squashfs"
  link "$kernel" "$staging/live/vmlinuz"
  link "$initrd" "$staging/live/initrd.img"
  printf '%s\n' "$grub_cfg" >"$staging/boot/grub/grub.cfg"
  # grub-mkrescue: El Torito BIOS boot + an EFI system partition image + an MBR/GPT for USB
  # sticks (xorriso's isohybrid). Volume id STOOK_<version>.
  volid="STOOK_$(echo "$VERSION" | tr 'a-z.+~-' 'A-Z____' | cut -c1-26)"
  rm -f "$iso.key"
  grub-mkrescue --output="$iso.partial" "$staging" -- -volid "$volid" \
    >"$OUT/grub-mkrescue.log" 2>&1 \
    || { cat "$OUT/grub-mkrescue.log" >&2; exit 1; }
  mv "$iso.partial" "$iso"
  sha256sum "$iso" | sed "s#$OUT/##" >"$iso.sha256"
  echo "$iso_key" >"$iso.key"
  rm -rf "$staging"
  iso_state="built"
fi
t_iso="$(elapsed "$t0")"

# --- 4. PXE artifacts --------------------------------------------------------------------------
if ((PXE)); then
  pxe="$OUT/pxe"
  mkdir -p "$pxe"
  link "$kernel" "$pxe/vmlinuz"
  link "$initrd" "$pxe/initrd.img"
  link "$image" "$pxe/filesystem.squashfs"
  cat >"$pxe/stook.ipxe" <<IPXE
#!ipxe
# Stook $VERSION: unattended network install. Serve this directory (vmlinuz, initrd.img,
# filesystem.squashfs) and a per-node install config over HTTP, then replace SERVER below.
# live-boot downloads the OS image into RAM (/run/live/medium/live/filesystem.squashfs), runs
# the installer from it and the installer writes that same image to the disk.
dhcp
kernel http://SERVER/vmlinuz initrd=initrd.img boot=live fetch=http://SERVER/filesystem.squashfs $CONSOLES stook.install.automatic stook.install.confirm_erase stook.install.config_url=http://SERVER/node.yaml
initrd http://SERVER/initrd.img
boot
IPXE
fi

# --- 5. Report ---------------------------------------------------------------------------------
printf '\nStook live medium %s\n' "$VERSION"
printf '  %-34s %s (%s, %s)\n' "$(basename "$image")" "$(size "$image")" "$os_state" "$t_os"
printf '  %-34s %s (%s, %s)\n' "$(basename "$iso")" "$(size "$iso")" "$iso_state" "$t_iso"
if ((PXE)); then
  printf '  %-34s %s (vmlinuz %s, initrd.img %s, filesystem.squashfs %s)\n' "pxe/" \
    "$(du -shL --apparent-size "$OUT/pxe" | cut -f1)" "$(size "$OUT/pxe/vmlinuz")" \
    "$(size "$OUT/pxe/initrd.img")" "$(size "$OUT/pxe/filesystem.squashfs")"
fi
printf '  %-34s %s\n' "total" "$(elapsed "$t_start")"
echo "$iso"
