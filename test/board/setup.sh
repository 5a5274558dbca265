#!/usr/bin/env bash
# What the board tests need before they run: the board's image (cached, see setup-board.sh) and the
# arm64 packages of this tree in images/out (made again when the bundles are newer).
set -euo pipefail
cd "$(dirname "$0")/../.."
bash test/board/setup-board.sh >/dev/null
DEB="images/out/kubeedge-lite-edge_$(node -p "require('./package.json').version")_arm64.deb"
if ! { [ "$DEB" -nt dist/edgecore.js ] && [ "$DEB" -nt dist/keadm.js ]; }; then npm run --silent images -- arm64; fi
