#!/usr/bin/env bash
# What the package tests need, made before they run without a network (`unshare --net`): the clean
# Debian root, the packages of this tree (version N) in images/out, and the same tree as version N+1
# in images/out/next (the upgrade), and this tree built a second time in images/out/again.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash test/images/setup-root.sh
# the packages test:arm just built serve, if they are newer than the bundles
if ! { [ images/out/packages.txt -nt dist/edgecore.js ] && [ images/out/packages.txt -nt dist/cloudcore.js ] && [ images/out/packages.txt -nt dist/keadm.js ]; }; then npm run --silent images; fi
VERSION=$(node -p "require('./package.json').version")
NEXT=$(node -p "const v = '$VERSION'.split('.'); v[2] = Number(v[2]) + 1; v.join('.')")
KUBEEDGE_PACKAGE_VERSION="$NEXT" KUBEEDGE_PACKAGE_OUT=images/out/next node images/build.mjs amd64 >/dev/null
# the same commit built again, from scratch, to be compared byte for byte (reproducible.test.ts)
rm -rf images/out/again
KUBEEDGE_PACKAGE_OUT=images/out/again node images/build.mjs amd64 >/dev/null
echo "packages $VERSION and $NEXT ready in images/out"
