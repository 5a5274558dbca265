"""cbor2 (an independent CBOR implementation) at its defaults, both ways.

  decode_cbor.py FILE...            decodes each file and prints one JSON document per file; fails on
                                    any CBOR tag (our frames must use none) or a float where an integer
                                    was written by a JSON number without a fraction
  decode_cbor.py --encode DIR       reads a JSON list on stdin and writes item i, encoded, to DIR/i.cbor
"""
import json
import os
import sys

import cbor2


def check(value, path="$"):
    if isinstance(value, cbor2.CBORTag):
        raise SystemExit(f"{path}: unexpected CBOR tag {value.tag}")
    if isinstance(value, float) and value.is_integer() and abs(value) >= 2**32:
        raise SystemExit(f"{path}: the integral number {value!r} was written as a float")
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                raise SystemExit(f"{path}: map key {k!r} is not a text string")
            check(v, f"{path}.{k}")
    if isinstance(value, list):
        for i, v in enumerate(value):
            check(v, f"{path}[{i}]")


if sys.argv[1] == "--encode":
    for i, item in enumerate(json.load(sys.stdin)):
        with open(os.path.join(sys.argv[2], f"{i}.cbor"), "wb") as f:
            f.write(cbor2.dumps(item))
    sys.exit(0)

out = []
for name in sys.argv[1:]:
    with open(name, "rb") as f:
        data = f.read()
    value = cbor2.loads(data)
    check(value)
    out.append(value)
print(json.dumps(out))
