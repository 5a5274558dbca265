#!/bin/bash
# Takes Kubernetes' and KubeEdge's own OpenAPI schemas for the kinds our cloudcore serves from a real
# kube-apiserver (v1.32, with KubeEdge v1.23's CRDs; ../shared/kubeedge) into schemas.json, which
# cloud-stub/apiserver/openapi.ts serves (kubectl explain, field validation). Run as root, from the
# repository: bash api/openapi/snapshot.sh. It runs the real cloud in a private network namespace.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
kube=${KUBEEDGE_DIR:-$here/../../../shared/kubeedge}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
unshare --net bash -c '
  set -euo pipefail
  export K='"$work"'/kube
  '"$kube"'/up.sh cloud > '"$work"'/up.log 2>&1 || { cat '"$work"'/up.log; exit 1; }
  T=$(cut -d, -f1 $K/tokens.csv)
  for gv in api/v1 apis/devices.kubeedge.io/v1beta1 apis/rules.kubeedge.io/v1 apis/events.k8s.io/v1; do
    curl -sfk -H "Authorization: Bearer $T" "https://127.0.0.1:6443/openapi/v3/$gv" > '"$work"'/$(echo $gv | tr / _).json
  done
  curl -sfk -H "Authorization: Bearer $T" https://127.0.0.1:6443/version > '"$work"'/version.json
  '"$kube"'/down.sh > /dev/null
'
node "$here/snapshot.mjs" "$work" > "$here/schemas.json"
echo "wrote $here/schemas.json ($(wc -c < "$here/schemas.json") bytes)"
