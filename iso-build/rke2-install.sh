#!/usr/bin/env bash
# Install RKE2 into the OS image tree from an airgap bundle, by RKE2's air-gap documentation
# (the tarball method: install.sh with INSTALL_RKE2_ARTIFACT_PATH, image archives in the agent's
# images directory). Called by build-rootfs.sh; run as root.
#
#   iso-build/rke2-install.sh TREE BUNDLE
#
# BUNDLE holds one RKE2 release's artifacts for amd64, as the docs list them: install.sh,
# rke2.linux-amd64.tar.gz, sha256sum-amd64.txt and the image archives
# (rke2-images.linux-amd64.tar.zst, or rke2-images-core + rke2-images-canal ...; .tar.gz too).
# RKE2 goes into the read-only slot, versioned with it (docs/decisions.md "RKE2 lives in the
# slot"): install.sh runs chrooted in TREE with INSTALL_RKE2_TAR_PREFIX=/usr (rke2 in /usr/bin,
# its units in /usr/lib/systemd/system; /usr/local is the state partition's), and the image
# archives go to /usr/lib/stook/rke2/images, which stook-rke2.service links into
# /var/lib/rancher/rke2/agent/images on every boot. Nothing is enabled here: the node's role
# decides at boot (usr/lib/stook/rke2/start).
set -euo pipefail
SUFFIX=linux-amd64
IMAGES=/usr/lib/stook/rke2/images
fail() { echo "rke2-install: $*" >&2; exit 1; }
(($# == 2)) || { sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
tree="$1" bundle="$2"
[[ -d $tree ]] || fail "image tree $tree is not a directory"
[[ -d $bundle ]] || fail "--rke2-bundle $bundle is not a directory"
for name in install.sh "rke2.$SUFFIX.tar.gz" sha256sum-amd64.txt; do
  [[ -f $bundle/$name ]] || fail "$bundle has no $name: give the directory holding an RKE2 \
release's airgap artifacts (install.sh from https://get.rke2.io and the release's assets)"
done
shopt -s nullglob
images=()
for archive in "$bundle"/rke2-images*."$SUFFIX".tar.{zst,gz}; do images+=("${archive##*/}"); done
((${#images[@]})) || fail "$bundle has no image archive (rke2-images*.$SUFFIX.tar.zst or .tar.gz)"

# Every archive must be the release's: its line in sha256sum-amd64.txt must match.
for name in "rke2.$SUFFIX.tar.gz" "${images[@]}"; do
  expected="$(awk -v n="$name" '$2 == n || $2 == "*" n {print $1}' "$bundle/sha256sum-amd64.txt")"
  [[ -n $expected ]] || fail "$name is not listed in $bundle/sha256sum-amd64.txt"
  actual="$(sha256sum "$bundle/$name" | cut -d' ' -f1)"
  [[ $actual == "$expected" ]] || fail "$name: sha256 $actual, the release says $expected"
done

staging="/tmp/stook-rke2-artifacts"
rm -rf "$tree$staging"
mkdir -p "$tree$staging" "$tree$IMAGES"
trap 'rm -rf "$tree$staging"' EXIT
cp "$bundle/install.sh" "$bundle/rke2.$SUFFIX.tar.gz" "$bundle/sha256sum-amd64.txt" "$tree$staging/"
# The docs' "manually deploy images": the archives, names kept, in the agent's images directory.
for name in "${images[@]}"; do cp "$bundle/$name" "$tree$IMAGES/$name"; done
chroot "$tree" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
  INSTALL_RKE2_ARTIFACT_PATH="$staging" INSTALL_RKE2_METHOD=tar INSTALL_RKE2_TAR_PREFIX=/usr \
  INSTALL_RKE2_AGENT_IMAGES_DIR="$IMAGES" \
  sh "$staging/install.sh" || fail "RKE2's install.sh failed (output above)"

for path in /usr/bin/rke2 /usr/lib/systemd/system/rke2-server.service \
  /usr/lib/systemd/system/rke2-agent.service; do
  [[ -e $tree$path ]] || fail "install.sh did not install $path"
done
{
  echo "RKE2 installed from an airgap bundle: rke2-server or rke2-agent starts by the node's role"
  echo "images: ${images[*]}"
} >"$tree/usr/lib/stook/kubernetes"
echo "rke2-install: RKE2 in /usr/bin/rke2, images ${images[*]} in $IMAGES" >&2
