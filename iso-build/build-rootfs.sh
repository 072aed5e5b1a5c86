#!/usr/bin/env bash
# Build the Stook node OS image: a Debian 12 rootfs (mmdebstrap, Debian packages only) with
# Stook installed as a wheel, packed into a read-only squashfs. Run as root.
#
#   iso-build/build-rootfs.sh [--version V] [--out DIR] [--rke2-bundle DIR]
#
# Slow part cached: the Debian rootfs, as a tarball under ~/.cache/stook/rootfs keyed by a hash of
# iso-build/packages.txt + the suite/mirror + RECIPE below; a rebuild after a Python change only
# re-installs the wheel and re-packs the squashfs. Python wheels are cached in
# ~/.cache/stook/wheels (keyed by pyproject.toml) and pip's own cache.
# Environment: STOOK_CACHE (default ~/.cache/stook), STOOK_DEBIAN_MIRROR,
# STOOK_SQUASHFS_COMP (gzip: 3x faster to pack than xz for a 34 % larger image; GRUB 2.06 reads
# gzip, xz, lzo but not zstd squashfs, and GRUB loads the kernel from inside the image),
# STOOK_SQUASHFS_GZIP_LEVEL (6: 6x faster to pack than gzip's 9 for a 0.7 % larger image;
# docs/decisions.md 57), SOURCE_DATE_EPOCH (image timestamps; default: last commit).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HERE="$ROOT/iso-build"
# Bump when the way the base rootfs is made changes (options, hooks), to invalidate the cache.
RECIPE=1
SUITE=bookworm
MIRROR="${STOOK_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
SECURITY_MIRROR="${STOOK_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}"
CACHE="${STOOK_CACHE:-$HOME/.cache/stook}"
COMP="${STOOK_SQUASHFS_COMP:-gzip}"
GZIP_LEVEL="${STOOK_SQUASHFS_GZIP_LEVEL:-6}"
VERSION="0.0.0-dev"
OUT="$ROOT/build/iso"
RKE2_BUNDLE=""

usage() { sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
while (($#)); do
  case "$1" in
    --version) VERSION="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    --rke2-bundle) RKE2_BUNDLE="$2"; shift 2 ;;
    -h|--help) usage ;;
    *) echo "build-rootfs: unknown argument $1" >&2; usage ;;
  esac
done
# The version ends up in os-release and in the boot environment (stook_core.boot.slots).
[[ $VERSION =~ ^[0-9A-Za-z][0-9A-Za-z.+~_-]{0,63}$ ]] \
  || { echo "build-rootfs: invalid --version '$VERSION'" >&2; exit 2; }
[[ -z $RKE2_BUNDLE || -d $RKE2_BUNDLE ]] \
  || { echo "build-rootfs: --rke2-bundle $RKE2_BUNDLE is not a directory" >&2; exit 2; }
[[ $(id -u) -eq 0 ]] || { echo "build-rootfs: run as root (chroot, device nodes)" >&2; exit 2; }
for cmd in mmdebstrap mksquashfs; do
  command -v "$cmd" >/dev/null || {
    echo "build-rootfs: $cmd missing: apt-get install -y mmdebstrap squashfs-tools" >&2; exit 2; }
done
PY="$ROOT/.venv/bin/python"
# A PIP_FIND_LINKS pointing nowhere only makes pip warn on every wheel.
[[ -z ${PIP_FIND_LINKS:-} || -d ${PIP_FIND_LINKS} ]] || unset PIP_FIND_LINKS
[[ -x $PY ]] || { echo "build-rootfs: no $PY: run scripts/bootstrap.sh first" >&2; exit 2; }

now() { date +%s.%N; }
elapsed() { printf '%.1f s' "$(echo "$(now) - $1" | bc -l 2>/dev/null || echo 0)"; }
log() { printf '\033[1m[build-rootfs]\033[0m %s\n' "$*" >&2; }
size() { du -sh --apparent-size "$1" | cut -f1; }
t_start=$(now)
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git -C "$ROOT" log -1 --format=%ct 2>/dev/null || date +%s)}"

# --- 1. Debian rootfs, cached by package list -------------------------------------------------
mapfile -t PACKAGES < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' "$HERE/packages.txt" | grep -v '^$')
key="$( { echo "recipe=$RECIPE suite=$SUITE mirror=$MIRROR security=$SECURITY_MIRROR"
          cat "$HERE/packages.txt"; } | sha256sum | cut -c1-16)"
base="$CACHE/rootfs/debian-$SUITE-$key.tar"
mkdir -p "$CACHE/rootfs"
t0=$(now)
if [[ -f $base ]]; then
  log "Debian rootfs: cached ($base)"
  base_state=warm
else
  log "Debian rootfs: building with mmdebstrap (${#PACKAGES[@]} packages, key $key)"
  base_state=cold
  include="$(IFS=,; echo "${PACKAGES[*]}")"
  mmdebstrap --mode=root --variant=apt --format=tar \
    --aptopt='APT::Install-Recommends "false"' \
    --aptopt='Acquire::Retries "3"' \
    --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-include=/usr/share/locale/locale.alias' \
    --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --include="$include" \
    "$SUITE" "$base.partial.$$" \
    "deb $MIRROR $SUITE main" "deb $MIRROR $SUITE-updates main" \
    "deb $SECURITY_MIRROR $SUITE-security main"
  mv "$base.partial.$$" "$base"
fi
t_base="$(elapsed "$t0")"

# --- 2. Python wheels for Stook and its dependencies -----------------------------------------
t0=$(now)
wkey="$(cat "$ROOT/pyproject.toml" | sha256sum | cut -c1-16)"
wheels="$CACHE/wheels/$wkey"
if [[ ! -f $wheels/.complete ]]; then
  log "wheels: downloading dependencies into $wheels"
  rm -rf "$wheels"; mkdir -p "$wheels"
  # Same interpreter as the image (Debian 12's python3.11), so the wheels fit it.
  "$PY" -m pip download -q --dest "$wheels" pip
  "$PY" -m pip wheel -q --wheel-dir "$wheels" "$ROOT"
  rm -f "$wheels"/stook-*.whl
  touch "$wheels/.complete"
fi
work="$CACHE/work.$$"  # per run: two builds at once must not share a tree
trap 'rm -rf "$work"' EXIT
rm -rf "$work"; mkdir -p "$work/wheel"
"$PY" -m pip wheel -q --no-deps --wheel-dir "$work/wheel" "$ROOT"
t_wheels="$(elapsed "$t0")"

# --- 3. Image tree: base + Stook + identity ---------------------------------------------------
t0=$(now)
tree="$work/rootfs"
mkdir -p "$tree"
tar -C "$tree" -xf "$base"
mkdir -p "$tree/tmp/stook-wheels"
cp "$wheels"/*.whl "$work/wheel"/*.whl "$tree/tmp/stook-wheels/"
pipwhl="$(cd "$tree/tmp/stook-wheels" && ls pip-*.whl | head -1)"
# Stook lives in /usr (read-only image); /opt and /usr/local belong to the state partition.
chroot "$tree" python3 -m venv --without-pip /usr/lib/stook/venv
env -u PIP_FIND_LINKS chroot "$tree" /usr/lib/stook/venv/bin/python "/tmp/stook-wheels/$pipwhl/pip" install -q \
  --no-index --no-cache-dir --find-links /tmp/stook-wheels stook
rm -rf "$tree/tmp/stook-wheels"
for tool in stook-os stook-net stook-agent stook-installer; do
  ln -sf "/usr/lib/stook/venv/bin/$tool" "$tree/usr/bin/$tool"
done
chroot "$tree" stook-os --help >/dev/null

cat >"$tree/usr/lib/os-release" <<OSR
PRETTY_NAME="Stook OS $VERSION (Debian 12)"
NAME="Stook OS"
ID=stook
ID_LIKE=debian
VERSION="$VERSION"
VERSION_ID="$VERSION"
VERSION_CODENAME=bookworm
HOME_URL="https://github.com/stook"
OSR
ln -sf ../usr/lib/os-release "$tree/etc/os-release"

mkdir -p "$tree/usr/lib/stook"
echo "Kubernetes is not installed: this image was built without an RKE2 airgap bundle" \
  >"$tree/usr/lib/stook/kubernetes"
if [[ -n $RKE2_BUNDLE ]]; then
  # Into the slot, versioned with it (docs/decisions.md); enabled at boot by the node's role.
  log "RKE2 airgap bundle: $RKE2_BUNDLE"
  "$HERE/rke2-install.sh" "$tree" "$RKE2_BUNDLE"
fi

# Stook's own files for the OS (initramfs boot script, systemd units, live-installer service...):
# iso-build/overlay/ mirrors / and is copied over the tree; overlay/enable.list names the units
# to enable. The initramfs is rebuilt afterwards so its hooks and scripts are included.
if [[ -d $HERE/overlay ]]; then
  cp -a --no-preserve=ownership "$HERE/overlay/." "$tree/"
  rm -f "$tree/enable.list"
  if [[ -f $HERE/overlay/enable.list ]]; then
    mapfile -t units < <(grep -v '^\s*\(#\|$\)' "$HERE/overlay/enable.list")
    ((${#units[@]})) && chroot "$tree" systemctl enable "${units[@]}" >/dev/null 2>&1
  fi
fi
kver="$(ls "$tree/lib/modules" | sort -V | tail -1)"
chroot "$tree" update-initramfs -u -k "$kver" >/dev/null

# GRUB reads the kernel and initrd from fixed paths inside the slot (stook_core.boot.grubcfg):
# real files, not the symlinks Debian keeps in /.
cp "$tree/boot/vmlinuz-$kver" "$tree/boot/vmlinuz"
cp "$tree/boot/initrd.img-$kver" "$tree/boot/initrd.img"

# Per-node identity is made on first boot and kept on the state partition, never in the image.
: >"$tree/etc/machine-id"
rm -f "$tree/var/lib/dbus/machine-id" "$tree"/etc/ssh/ssh_host_*
mkdir -p "$tree/etc/systemd/system/ssh.service.d"
# Debian's unit checks the config (sshd -t) before anything a drop-in appends, and that check
# fails without host keys: reset the list so the keys are made first.
cat >"$tree/etc/systemd/system/ssh.service.d/stook-host-keys.conf" <<'UNIT'
[Service]
ExecStartPre=
ExecStartPre=/usr/bin/ssh-keygen -A
ExecStartPre=/usr/sbin/sshd -t
UNIT
chroot "$tree" systemctl enable systemd-networkd.service systemd-resolved.service >/dev/null 2>&1
rm -rf "$tree"/var/cache/apt/*.bin "$tree"/var/lib/apt/lists/* "$tree"/var/log/*.log
find "$tree/usr/lib/stook/venv" -name __pycache__ -prune -exec rm -rf {} +
t_tree="$(elapsed "$t0")"

# --- 4. Read-only image -----------------------------------------------------------------------
t0=$(now)
mkdir -p "$OUT"
image="$OUT/stook-os-$VERSION.squashfs"
# mksquashfs takes every timestamp from SOURCE_DATE_EPOCH (exported above).
comp=(-comp "$COMP")
if [[ $COMP == gzip ]]; then comp+=(-Xcompression-level "$GZIP_LEVEL"); fi
mksquashfs "$tree" "$image" -noappend "${comp[@]}" -quiet -no-progress -processors 2
sha256sum "$image" | sed "s#$OUT/##" >"$image.sha256"
cp "$tree/boot/vmlinuz" "$OUT/vmlinuz-$VERSION"
cp "$tree/boot/initrd.img" "$OUT/initrd.img-$VERSION"
t_squash="$(elapsed "$t0")"
tree_size="$(size "$tree")"
rm -rf "$work"

# --- 5. Report --------------------------------------------------------------------------------
printf '\nStook OS %s (kernel %s)\n' "$VERSION" "$kver"
printf '  %-28s %s (%s, %s)\n' "Debian rootfs cache" "$(size "$base")" "$base_state" "$t_base"
printf '  %-28s %s\n' "wheels" "$t_wheels"
printf '  %-28s %s (%s)\n' "image tree" "$tree_size" "$t_tree"
printf '  %-28s %s (%s, %s)\n' "$(basename "$image")" "$(size "$image")" "${comp[*]:1}" "$t_squash"
printf '  %-28s %s\n' "vmlinuz-$VERSION" "$(size "$OUT/vmlinuz-$VERSION")"
printf '  %-28s %s\n' "initrd.img-$VERSION" "$(size "$OUT/initrd.img-$VERSION")"
printf '  %-28s %s\n' "total" "$(elapsed "$t_start")"
