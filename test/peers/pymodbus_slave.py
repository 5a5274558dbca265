"""An independent Modbus slave (Debian's python3-pymodbus), over TCP or RTU, with known values.

usage: pymodbus_slave.py tcp PORT | rtu SERIAL_PORT BAUD
Holding registers (addresses from 0, as on the wire):
  0 int16 -1234 | 1 uint16 54321 | 2-3 int32 -123456789 | 4-5 uint32 3000000000
  6-7 float32 21.5 | 8-11 float64 -1234.5678 | 12 boolean 1 | 13-15 string "Hello!"
  16-17 float32 21.5, bytes swapped | 18-19 float32 21.5, words swapped | 20-21 int32 -123456789, both
  30-49: 100..119 (twenty neighbours) | 60: 0 (for writes)
Input registers: 0 = 215 (21.5 at scale 0.1). Coils: 0 on, 1 off. Discrete inputs: 0 on.
Every block is 100 long: address 100 and beyond answers exception 2 (illegal data address).
"""
import logging
import struct
import sys

from pymodbus.datastore import ModbusSequentialDataBlock, ModbusServerContext, ModbusSlaveContext

logging.basicConfig(level=logging.ERROR)


def words(fmt, value):
    raw = struct.pack('>' + fmt, value)
    return [int.from_bytes(raw[i:i + 2], 'big') for i in range(0, len(raw), 2)]


def swap_bytes(ws):
    return [((w & 0xFF) << 8) | (w >> 8) for w in ws]


holding = [0] * 100
holding[0:1] = words('h', -1234)
holding[1:2] = words('H', 54321)
holding[2:4] = words('i', -123456789)
holding[4:6] = words('I', 3000000000)
holding[6:8] = words('f', 21.5)
holding[8:12] = words('d', -1234.5678)
holding[12] = 1
holding[13:16] = [int.from_bytes(b'He', 'big'), int.from_bytes(b'll', 'big'), int.from_bytes(b'o!', 'big')]
holding[16:18] = swap_bytes(words('f', 21.5))
holding[18:20] = list(reversed(words('f', 21.5)))
holding[20:22] = list(reversed(swap_bytes(words('i', -123456789))))
holding[30:50] = list(range(100, 120))

inputs = [0] * 100
inputs[0] = 215
coils = [False] * 100
coils[0] = True
discrete = [False] * 100
discrete[0] = True

store = ModbusSlaveContext(
    di=ModbusSequentialDataBlock(0, discrete),
    co=ModbusSequentialDataBlock(0, coils),
    hr=ModbusSequentialDataBlock(0, holding),
    ir=ModbusSequentialDataBlock(0, inputs),
    zero_mode=True,
)
context = ModbusServerContext(slaves={1: store, 2: store}, single=False)

if sys.argv[1] == 'tcp':
    from pymodbus.server import StartTcpServer
    # reuse_address: a slave that comes back binds its port again at once (TIME_WAIT of the killed one)
    StartTcpServer(context=context, address=('127.0.0.1', int(sys.argv[2])), allow_reuse_address=True)
else:
    from pymodbus.server import StartSerialServer
    from pymodbus.transaction import ModbusRtuFramer
    StartSerialServer(context=context, framer=ModbusRtuFramer, port=sys.argv[2], baudrate=int(sys.argv[3]), timeout=0.05)
