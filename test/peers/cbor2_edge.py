"""A foreign edge, written with nothing of ours: Python's websockets for the link (mutual TLS) and
cbor2 at its defaults for the frames, so every integer it writes (a millisecond timestamp is one)
is a CBOR integer in its shortest form, 8 bytes where it needs them.

  cbor2_edge.py URL NODE CA CERT KEY SEND.json OUT.jsonl

It sends a keepalive and `sync {storeId}`, then the messages of SEND.json (each `{route, content,
resourceversion?}`, stamped here with a msg_id and a timestamp), a keepalive every second, and
acknowledges every cloud message that is not itself a response, as KubeEdge's edge does (a
`response` on the message's route, parent_msg_id its msg_id, content "OK"). Each frame
from the cloud goes to OUT.jsonl as one line: the messages, and the Python type of every header
timestamp (an int, unless the cloud wrote a float)."""
import asyncio
import json
import ssl
import sys
import time
import uuid

import cbor2
import websockets

url, node, ca, cert, key, send_file, out_file = sys.argv[1:8]


def message(route, content, parent=None, resourceversion=None):
    header = {"msg_id": str(uuid.uuid4()), "timestamp": int(time.time() * 1000)}
    if parent is not None:
        header["parent_msg_id"] = parent
    if resourceversion is not None:
        header["resourceversion"] = resourceversion
    return {"header": header, "route": route, "content": content}


def keepalive():
    return message({"source": "edgehub", "group": "resource", "operation": "keepalive", "resource": "node"}, "ping")


async def main():
    tls = ssl.create_default_context(cafile=ca)
    tls.load_cert_chain(cert, key)
    tls.check_hostname = False
    headers = {"node_id": node, "project_id": url.split("/")[3]}
    with open(send_file) as f:
        to_send = json.load(f)
    async with websockets.connect(url, ssl=tls, extra_headers=headers, max_size=4 * 1024 * 1024) as ws:
        await ws.send(cbor2.dumps(keepalive()))
        await ws.send(cbor2.dumps(message({"source": "metamanager", "group": "resource", "operation": "sync", "resource": "node"}, {"storeId": "py-" + node})))
        for m in to_send:
            await ws.send(cbor2.dumps(message(m["route"], m["content"], resourceversion=m.get("resourceversion"))))

        async def beat():
            while True:
                await asyncio.sleep(1)
                await ws.send(cbor2.dumps(keepalive()))

        beating = asyncio.ensure_future(beat())
        with open(out_file, "a") as out:
            async for frame in ws:
                if not isinstance(frame, bytes):
                    raise SystemExit("the cloud sent a text frame to a CBOR edge")
                value = cbor2.loads(frame)
                msgs = value if isinstance(value, list) else [value]
                types = [type(m["header"]["timestamp"]).__name__ for m in msgs]
                out.write(json.dumps({"messages": msgs, "timestampTypes": types}) + "\n")
                out.flush()
                for m in msgs:
                    if m["route"]["operation"] != "response":
                        await ws.send(cbor2.dumps(message(dict(m["route"], operation="response"), "OK", parent=m["header"]["msg_id"])))
        beating.cancel()


asyncio.run(main())
