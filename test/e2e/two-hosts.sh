#!/usr/bin/env bash
# One side of the README's binary deployment on two machines, typed as the README has it. Run by
# two-hosts.test.ts inside a network namespace of its own (a veth pair joins the two), a mount
# namespace with tmpfs over /etc/kubeedge and /var/lib/kubeedge, and (the edge) a pid namespace,
# so each side is a machine of its own. Usage: two-hosts.sh cloud|edge DIST SHARED_DIR
set -euo pipefail
SIDE=$1; DIST=$2; SHARED=$3
mount -t tmpfs tmpfs /etc/kubeedge
mount -t tmpfs tmpfs /var/lib/kubeedge
ip link set lo up
cd "$(mktemp -d -p "$SHARED" "$SIDE.XXXX")"
cloudcore() { node "$DIST/cloudcore.js" "$@"; }
edgecore() { node "$DIST/edgecore.js" "$@"; }
keadm() { node "$DIST/keadm.js" "$@"; }
cleanup() { kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT
# (a file, not a pipe: with pipefail, grep -q leaving early would fail keadm on SIGPIPE)
ready() { keadm get nodes > nodes.txt 2>&1; grep -q "^edge-b  *Ready" nodes.txt; }
waitready() { for _ in $(seq 300); do ready && return 0; sleep 0.2; done; cat nodes.txt; tail -5 cloudcore*.log; return 1; }

if [ "$SIDE" = cloud ]; then
  mkdir -p /etc/kubeedge/config
  cloudcore --minconfig > /etc/kubeedge/config/cloudcore.yaml   # advertises this host's own address
  grep -A1 advertiseAddress /etc/kubeedge/config/cloudcore.yaml
  node "$DIST/cloudcore.js" --config /etc/kubeedge/config/cloudcore.yaml > cloudcore.log 2>&1 &
  for _ in $(seq 100); do grep -q "cloudcore is running" cloudcore.log && break; sleep 0.1; done
  token=$(keadm gettoken)
  echo "$token" > "$SHARED/token.tmp" && mv "$SHARED/token.tmp" "$SHARED/token"
  waitready
  cat nodes.txt
  # an address added to advertiseAddress is in the certificate after a restart
  kill %1; wait %1 2>/dev/null || true
  sed -i -e 's|^\(\s*\)- \(10\.77\.0\.1\)$|\1- \2\n\1- 10.77.0.99|' /etc/kubeedge/config/cloudcore.yaml
  node "$DIST/cloudcore.js" --config /etc/kubeedge/config/cloudcore.yaml > cloudcore2.log 2>&1 &
  for _ in $(seq 100); do grep -q "cloudcore is running" cloudcore2.log && break; sleep 0.1; done
  grep "made the server certificate" cloudcore2.log
  openssl x509 -in /etc/kubeedge/certs/cloudcore.crt -noout -ext subjectAltName
  waitready
  echo "TWO-HOSTS-OK"
else
  for _ in $(seq 300); do [ -s "$SHARED/token" ] && break; sleep 0.1; done
  token=$(cat "$SHARED/token")
  edgecore --minconfig > edgecore.yaml
  sed -i -e "s|token: .*|token: ${token}|g" -e "s|127.0.0.1:10000|10.77.0.1:10000|" -e "s|https://127.0.0.1:10002|https://10.77.0.1:10002|" edgecore.yaml
  sed -i -e "s|hostnameOverride: .*|hostnameOverride: edge-b|" edgecore.yaml
  exec node "$DIST/edgecore.js" --config edgecore.yaml
fi
