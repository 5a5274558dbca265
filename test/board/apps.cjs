// Apps on the board while its power is cut (run by Debian's node there; nothing but Node's own
// modules): MQTT 3.1.1 by hand to edgecore's embedded broker on 127.0.0.1:1884.
//   node apps.cjs uploads BOOT LOG   publishes QoS 1 uploads {boot, seq} to $hw/events/upload/cut, one
//                                    at a time; each "BOOT SEQ" the broker acknowledged is appended to
//                                    LOG and fsynced before the next is sent
//   node apps.cjs twin BOOT LOG      sets the twin counter of device default/meter to 1, 2, 3, …
//                                    (from the last value in LOG), waiting for each update/result;
//                                    each answered value is appended to LOG and fsynced
//   node apps.cjs get                prints the twin counter of default/meter as edgecore has it (twin/get)
// The first two run until killed (the power cut does that).
'use strict';
const net = require('node:net');
const fs = require('node:fs');

const [mode, boot, logFile] = process.argv.slice(2);
const note = (line) => {
  const log = (note.fd ??= fs.openSync(logFile, 'a'));
  fs.writeSync(log, `${line}\n`);
  fs.fsyncSync(log);
};

const str = (s) => {
  const b = Buffer.from(s);
  return Buffer.concat([Buffer.from([b.length >> 8, b.length & 255]), b]);
};
const packet = (type, body) => {
  const len = [];
  let n = body.length;
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 128;
    len.push(byte);
  } while (n > 0);
  return Buffer.concat([Buffer.from([type, ...len]), body]);
};
const connectPacket = (id) => packet(0x10, Buffer.concat([str('MQTT'), Buffer.from([4, 2, 0, 60]), str(id)]));
const publishPacket = (topic, payload, pid) => packet(0x32, Buffer.concat([str(topic), Buffer.from([pid >> 8, pid & 255]), Buffer.from(payload)]));
const subscribePacket = (topic, pid) => packet(0x82, Buffer.concat([Buffer.from([pid >> 8, pid & 255]), str(topic), Buffer.from([1])]));
const pubackPacket = (pid) => packet(0x40, Buffer.from([pid >> 8, pid & 255]));

/** a connection that hands each whole packet to `on(type, body)` */
function open(id, on) {
  return new Promise((resolve, reject) => {
    const s = net.connect(1884, '127.0.0.1');
    let buf = Buffer.alloc(0);
    s.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        let len = 0;
        let mul = 1;
        let i = 1;
        for (; i < buf.length && i < 5; i++) {
          len += (buf[i] & 127) * mul;
          mul *= 128;
          if ((buf[i] & 128) === 0) break;
        }
        if (i >= buf.length || buf.length < i + 1 + len) return;
        const type = buf[0];
        const body = buf.subarray(i + 1, i + 1 + len);
        buf = buf.subarray(i + 1 + len);
        if (type >> 4 === 2) resolve(s);
        else on(type, body, s);
      }
    });
    s.on('error', reject);
    s.on('close', () => {
      console.error(`${id}: the broker closed the connection`);
      process.exit(2);
    });
    s.write(connectPacket(id));
  });
}

async function uploads() {
  let waiting;
  const s = await open(`cut-uploads-${boot}`, (type, body) => {
    if (type >> 4 === 4 && waiting) waiting(body.readUInt16BE(0));
  });
  for (let seq = 1; ; seq++) {
    const pid = (seq % 65535) + 1;
    await new Promise((resolve) => {
      waiting = (got) => got === pid && resolve();
      s.write(publishPacket('$hw/events/upload/cut', JSON.stringify({ boot: Number(boot), seq }), pid));
    });
    note(`${boot} ${seq}`);
  }
}

async function twin() {
  const before = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8').trim().split('\n').filter(Boolean) : [];
  let value = before.length ? Number(before[before.length - 1]) : 0;
  let answered;
  const topic = '$hw/events/device/default/meter/twin/update';
  const s = await open(`cut-twin-${boot}`, (type, body, sock) => {
    if (type >> 4 !== 3) return;
    const tlen = body.readUInt16BE(0);
    const qos = (type >> 1) & 3;
    const payload = body.subarray(2 + tlen + (qos ? 2 : 0)).toString();
    if (qos) sock.write(pubackPacket(body.readUInt16BE(2 + tlen)));
    try {
      const r = JSON.parse(payload);
      if (answered && !r.code) answered(r.event_id);
    } catch {
      /* not ours */
    }
  });
  s.write(subscribePacket(`${topic}/result`, 1));
  await new Promise((r) => setTimeout(r, 300));
  for (let pid = 2; ; pid = (pid % 65534) + 2) {
    value++;
    const id = `b${boot}-${value}`;
    await new Promise((resolve) => {
      answered = (got) => got === id && resolve();
      s.write(publishPacket(topic, JSON.stringify({ event_id: id, twin: { counter: { actual: { value: String(value) } } } }), pid));
    });
    note(String(value));
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function get() {
  const topic = '$hw/events/device/default/meter/twin/get';
  const s = await open('board-get', (type, body) => {
    if (type >> 4 !== 3) return;
    const tlen = body.readUInt16BE(0);
    const qos = (type >> 1) & 3;
    const r = JSON.parse(body.subarray(2 + tlen + (qos ? 2 : 0)).toString());
    if (r.event_id !== 'get') return;
    console.log(r.twin.counter.actual.value);
    process.exit(0);
  });
  s.write(subscribePacket(`${topic}/result`, 1));
  setTimeout(() => s.write(publishPacket(topic, JSON.stringify({ event_id: 'get' }), 2)), 300);
}

(mode === 'uploads' ? uploads() : mode === 'twin' ? twin() : get()).catch((err) => {
  console.error(err);
  process.exit(1);
});
