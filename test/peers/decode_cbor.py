"""Decodes each file named on the command line with cbor2 (an independent CBOR decoder) and
prints one JSON document per file. Fails on any CBOR tag: our frames must use none."""
import json
import sys

import cbor2


def check(value, path="$"):
    if isinstance(value, cbor2.CBORTag):
        raise SystemExit(f"{path}: unexpected CBOR tag {value.tag}")
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                raise SystemExit(f"{path}: map key {k!r} is not a text string")
            check(v, f"{path}.{k}")
    if isinstance(value, list):
        for i, v in enumerate(value):
            check(v, f"{path}[{i}]")


out = []
for name in sys.argv[1:]:
    with open(name, "rb") as f:
        data = f.read()
    value = cbor2.loads(data)
    check(value)
    out.append(value)
print(json.dumps(out))
