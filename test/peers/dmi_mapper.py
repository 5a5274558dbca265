#!/usr/bin/python3
"""A KubeEdge mapper written from DMI's api.proto with Debian's grpcio, as a test peer.

It serves DeviceMapperService on its own unix socket, registers with edgecore's
DeviceManagerService, and prints one JSON line per event on stdout: what it registered and got,
and every call edgecore makes to it. Commands come as JSON lines on stdin:
  {"report": {"device": "boiler", "namespace": "default", "twins": {"temperature": "21.5"}}}
  {"state": {"device": "boiler", "namespace": "default", "state": "online"}}
  {"register": true}
each answered with {"reply": <command>, "ok": true} or {"reply": ..., "ok": false, "code": ..., "error": ...}.

usage: dmi_mapper.py EDGE_SOCKET OWN_SOCKET PROTOCOL NAME
"""
import json
import os
import sys
import tempfile
import threading
from concurrent import futures

import grpc
from grpc_tools import protoc
from google.protobuf.json_format import MessageToDict

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO_DIR = os.path.join(HERE, '..', '..', 'api', 'dmi', 'v1beta1')

edge_sock, own_sock, protocol, name = sys.argv[1:5]

gen = tempfile.mkdtemp(prefix='dmi-pb-')
if protoc.main(['protoc', f'-I{PROTO_DIR}', f'-I{os.path.dirname(protoc.__file__)}/_proto', f'--python_out={gen}', f'--grpc_python_out={gen}', 'api.proto']) != 0:
    sys.exit('protoc failed')
sys.path.insert(0, gen)
import api_pb2  # noqa: E402
import api_pb2_grpc  # noqa: E402

out_lock = threading.Lock()


def say(obj):
    with out_lock:
        sys.stdout.write(json.dumps(obj) + '\n')
        sys.stdout.flush()


def as_dict(msg):
    return MessageToDict(msg, preserving_proto_field_name=True)


def config_values(device):
    """configData's Any values, unwrapped as a mapper does (StringValue, DoubleValue, BoolValue…)."""
    from google.protobuf import wrappers_pb2
    out = {}
    for key, any_value in device.spec.protocol.configData.data.items():
        for kind in (wrappers_pb2.StringValue, wrappers_pb2.FloatValue, wrappers_pb2.DoubleValue, wrappers_pb2.BoolValue, wrappers_pb2.Int64Value):
            v = kind()
            if any_value.Unpack(v):
                out[key] = v.value
                break
    return out


desired = {}  # (namespace, device, property) -> the desired value last given, as mapper-framework keeps it


def note_desired(device):
    for p in device.spec.properties:
        desired[(device.namespace, device.name, p.name)] = p.desired.value


class Mapper(api_pb2_grpc.DeviceMapperServiceServicer):
    def RegisterDevice(self, request, context):
        note_desired(request.device)
        say({'call': 'RegisterDevice', 'device': as_dict(request.device), 'config': config_values(request.device)})
        return api_pb2.RegisterDeviceResponse(deviceName=request.device.name, deviceNamespace=request.device.namespace)

    def UpdateDevice(self, request, context):
        note_desired(request.device)
        say({'call': 'UpdateDevice', 'device': as_dict(request.device)})
        return api_pb2.UpdateDeviceResponse()

    def RemoveDevice(self, request, context):
        say({'call': 'RemoveDevice', 'deviceName': request.deviceName, 'deviceNamespace': request.deviceNamespace})
        return api_pb2.RemoveDeviceResponse()

    def CreateDeviceModel(self, request, context):
        say({'call': 'CreateDeviceModel', 'model': as_dict(request.model)})
        return api_pb2.CreateDeviceModelResponse(deviceModelName=request.model.name, deviceModelNamespace=request.model.namespace)

    def UpdateDeviceModel(self, request, context):
        say({'call': 'UpdateDeviceModel', 'model': as_dict(request.model)})
        return api_pb2.UpdateDeviceModelResponse()

    def RemoveDeviceModel(self, request, context):
        say({'call': 'RemoveDeviceModel', 'modelName': request.modelName, 'modelNamespace': request.modelNamespace})
        return api_pb2.RemoveDeviceModelResponse()

    def GetDevice(self, request, context):
        return api_pb2.GetDeviceResponse()


if os.path.exists(own_sock):
    os.remove(own_sock)
server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
api_pb2_grpc.add_DeviceMapperServiceServicer_to_server(Mapper(), server)
server.add_insecure_port(f'unix://{own_sock}')
server.start()

channel = grpc.insecure_channel(f'unix://{edge_sock}')
edge = api_pb2_grpc.DeviceManagerServiceStub(channel)


def register():
    info = api_pb2.MapperInfo(name=name, version='v1.0.0', api_version='v1beta1', protocol=protocol, address=own_sock.encode(), state='running')
    # edgecore may be starting: wait for its socket, as a mapper does
    for attempt in range(60):
        try:
            reply = edge.MapperRegister(api_pb2.MapperRegisterRequest(withData=True, mapper=info), timeout=5, wait_for_ready=True)
            break
        except grpc.RpcError:
            if attempt == 59:
                raise
    for d in reply.deviceList:
        note_desired(d)
    say({'call': 'registered', 'devices': [as_dict(d) for d in reply.deviceList], 'models': [as_dict(m) for m in reply.modelList]})


def run(cmd):
    if 'register' in cmd:
        register()
    elif 'report' in cmd:
        r = cmd['report']
        ns = r.get('namespace', 'default')
        # with observedDesired, as mapper-framework sends it (KubeEdge's edgecore dereferences it)
        twins = [api_pb2.Twin(propertyName=k, observedDesired=api_pb2.TwinProperty(value=desired.get((ns, r['device'], k), '')), reported=api_pb2.TwinProperty(value=v, metadata={'type': 'string'})) for k, v in r['twins'].items()]
        status = api_pb2.DeviceStatus(twins=twins, reportToCloud=True)
        edge.ReportDeviceStatus(api_pb2.ReportDeviceStatusRequest(deviceName=r['device'], deviceNamespace=ns, reportedDevice=status), timeout=5)
    elif 'state' in cmd:
        s = cmd['state']
        edge.ReportDeviceStates(api_pb2.ReportDeviceStatesRequest(deviceName=s['device'], deviceNamespace=s.get('namespace', 'default'), state=s['state']), timeout=5)


register()
for line in sys.stdin:
    if not line.strip():
        continue
    cmd = json.loads(line)
    try:
        run(cmd)
        say({'reply': cmd, 'ok': True})
    except grpc.RpcError as e:
        say({'reply': cmd, 'ok': False, 'code': e.code().name, 'error': e.details()})
server.stop(0)
