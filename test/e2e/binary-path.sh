#!/usr/bin/env bash
# KubeEdge's binary deployment, verbatim, on one host: run inside `unshare --mount` with tmpfs over
# /etc/kubeedge and /var/lib/kubeedge, so the real default paths are used and nothing leaks out.
# Usage: binary-path.sh DIST_DIR   (prints "BINARY-PATH-OK NODE" at the end)
set -euo pipefail
DIST="$1"
mount -t tmpfs tmpfs /etc/kubeedge
mount -t tmpfs tmpfs /var/lib/kubeedge
WORK=$(mktemp -d)
cd "$WORK"
cloudcore() { node "$DIST/cloudcore.js" "$@"; }
edgecore() { node "$DIST/edgecore.js" "$@"; }
keadm() { node "$DIST/keadm.js" "$@"; }
# background jobs are the node processes themselves (not shell functions), so killing them stops them
cleanup() { kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; cd /; rm -rf "$WORK"; }
trap cleanup EXIT

mkdir -p /etc/kubeedge/config
cloudcore --minconfig > /etc/kubeedge/config/cloudcore.yaml
node "$DIST/cloudcore.js" --config /etc/kubeedge/config/cloudcore.yaml > cloudcore.log 2>&1 &
for _ in $(seq 100); do grep -q "cloudcore is running" cloudcore.log && break; sleep 0.1; done
grep -q "cloudcore is running" cloudcore.log || { cat cloudcore.log; exit 1; }
token=$(keadm gettoken)

edgecore --minconfig > edgecore.yaml
sed -i -e "s|token: .*|token: ${token}|g" edgecore.yaml
NODE=$(grep hostnameOverride edgecore.yaml | awk '{print $2}')

# without the variable, edgecore refuses to run beside cloudcore, and says why
if edgecore --config edgecore.yaml > refused.log 2>&1; then echo "edgecore started beside cloudcore"; exit 1; fi
grep "a cloudcore runs on this host" refused.log

CHECK_EDGECORE_ENVIRONMENT=false node "$DIST/edgecore.js" --config edgecore.yaml > edgecore.log 2>&1 &
for _ in $(seq 150); do keadm get nodes 2>/dev/null | grep -q "^$NODE .*Ready" && break; sleep 0.2; done
keadm get nodes
keadm get nodes | grep -q "^$NODE  *Ready" || { tail -5 edgecore.log cloudcore.log; exit 1; }
ls /etc/kubeedge/ca /etc/kubeedge/certs
echo "BINARY-PATH-OK $NODE"
