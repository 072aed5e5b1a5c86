#!/usr/bin/env bash
# Build the fleet lab's PXE server box for vagrant-libvirt from Debian packages (no Vagrant
# Cloud): a Debian 12 root filesystem (mmdebstrap) with SSH, sudo, Python (for Ansible) and the
# packages the PXE server role uses (dnsmasq-base, nginx, ipxe) already installed, so the role
# runs without a mirror. Run as root.
#
#   tools/lab/build-pxe-box.sh [--out DIR]        (default build/lab)
#   vagrant box add --name stook/pxe-server build/lab/pxe-server.box
#
# The box's disk is one ext4 filesystem (no partition table, no boot loader): the Vagrantfile
# boots DIR/pxe-server/vmlinuz and initrd.img directly (libvirt kernel boot, root=/dev/vda).
# The vagrant user takes Vagrant's well-known insecure key from Debian's vagrant package; Vagrant
# replaces it with a key of its own on the first `vagrant up`.
# Environment: STOOK_DEBIAN_MIRROR (default http://deb.debian.org/debian).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
OUT="$ROOT/build/lab"
SUITE=bookworm
MIRROR="${STOOK_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
DISK_SIZE=4G
PACKAGES=(linux-image-amd64 initramfs-tools systemd-sysv openssh-server sudo python3
          ifupdown isc-dhcp-client iproute2 ca-certificates dnsmasq-base nginx ipxe)

usage() { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
while (($#)); do
  case "$1" in
    --out) OUT="$2"; shift 2 ;;
    -h|--help) usage ;;
    *) echo "build-pxe-box: unknown argument $1" >&2; usage ;;
  esac
done
log() { printf '\033[1m[build-pxe-box]\033[0m %s\n' "$*" >&2; }
[[ $(id -u) == 0 ]] || { echo "build-pxe-box: run as root (mmdebstrap, mke2fs -d)" >&2; exit 2; }
for cmd in mmdebstrap mke2fs qemu-img tar; do
  command -v "$cmd" >/dev/null || {
    echo "build-pxe-box: $cmd missing: scripts/bootstrap.sh test" >&2; exit 2; }
done
KEY="$(ls /usr/share/rubygems-integration/all/gems/vagrant-*/keys/vagrant.pub 2>/dev/null | head -1)"
[[ -n $KEY ]] || { echo "build-pxe-box: Vagrant's insecure key missing: apt-get install vagrant" >&2; exit 2; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
rootfs="$work/rootfs"
log "Debian $SUITE root filesystem (${#PACKAGES[@]} packages)"
mmdebstrap --mode=root --variant=apt --format=directory \
  --aptopt='APT::Install-Recommends "false"' --aptopt='Acquire::Retries "3"' \
  --include="$(IFS=,; echo "${PACKAGES[*]}")" \
  --customize-hook="cp '$KEY' \"\$1/root/vagrant.pub\"" \
  --customize-hook='chroot "$1" sh -eu -c "
    useradd --create-home --shell /bin/bash --uid 1000 vagrant
    install -d -m 0700 -o vagrant -g vagrant /home/vagrant/.ssh
    install -m 0600 -o vagrant -g vagrant /root/vagrant.pub /home/vagrant/.ssh/authorized_keys
    rm /root/vagrant.pub
    echo \"vagrant ALL=(ALL) NOPASSWD: ALL\" > /etc/sudoers.d/vagrant
    chmod 0440 /etc/sudoers.d/vagrant
    echo pxe-server > /etc/hostname
    echo \"/dev/vda / ext4 defaults 0 1\" > /etc/fstab
    printf \"auto lo\niface lo inet loopback\nauto eth0\niface eth0 inet dhcp\nsource /etc/network/interfaces.d/*\n\" > /etc/network/interfaces
    echo \"UseDNS no\" > /etc/ssh/sshd_config.d/vagrant.conf
    systemctl disable nginx.service || true
    apt-get clean
  "' \
  "$SUITE" "$rootfs" "deb $MIRROR $SUITE main" "deb $MIRROR $SUITE-updates main"

mkdir -p "$OUT/pxe-server"
cp "$(readlink -f "$rootfs/vmlinuz")" "$OUT/pxe-server/vmlinuz"
cp "$(readlink -f "$rootfs/initrd.img")" "$OUT/pxe-server/initrd.img"
log "disk image ($DISK_SIZE ext4, populated with mke2fs -d)"
mke2fs -q -t ext4 -L pxe-server -d "$rootfs" "$work/disk.raw" "$DISK_SIZE"
qemu-img convert -f raw -O qcow2 "$work/disk.raw" "$work/box.img"
cat > "$work/metadata.json" <<EOF
{"provider": "libvirt", "format": "qcow2", "virtual_size": ${DISK_SIZE%G}}
EOF
cat > "$work/Vagrantfile" <<'EOF'
Vagrant.configure("2") do |config|
  config.vm.provider :libvirt do |libvirt|
    libvirt.driver = "kvm"
  end
end
EOF
tar -C "$work" -cf "$OUT/pxe-server.box" metadata.json Vagrantfile box.img
log "done: $OUT/pxe-server.box ($(du -h "$OUT/pxe-server.box" | cut -f1)); kernel and initrd in $OUT/pxe-server/"
log "next: vagrant box add --name stook/pxe-server $OUT/pxe-server.box"
