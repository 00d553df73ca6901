/**
 * A Node script run inside a namespace (runNodeIn) that talks ESP with a peer through the
 * project's addon: it seals each given payload with an outbound SA, sends it on a raw ESP socket
 * (protocol 50) or a UDP socket (ESP in UDP), and opens what comes back with an inbound SA. Its
 * one argument is a JSON config:
 *   { nativeUrl, mode: 'raw' | 'udp', local, remote, port, aead, out: { spi, key }, in: { spi, key },
 *     payloads: hex[], nextHeader, waitMs, extras?: ('tamper' | 'replay' | 'cleartext')[], extrasWaitMs? }
 * Keys are hex with their salt, as `ip xfrm` takes them. It prints one JSON line:
 *   { sent: hex[], received: { port, esp: hex, outcome, nextHeader, payload }[], extrasAnswered, counters, inbound }
 * where `sent` are the ESP packets as they left and each received entry is one ESP packet that
 * arrived from `remote` (its outer IPv4 header removed; `port` its UDP source port), opened. With extras, after the payloads it
 * also sends the first payload sealed afresh with one ciphertext bit flipped, the first packet
 * again, and (raw mode) the first payload as cleartext on a raw socket of protocol `nextHeader`;
 * `extrasAnswered` counts what came back for those.
 */
export const ESP_EXCHANGE_SCRIPT = `
const config = JSON.parse(process.argv[1]);
const native = await import(config.nativeUrl);
const toNumber = (ip) => ip.split('.').reduce((a, o) => a * 256 + Number(o), 0);
const remote = toNumber(config.remote);
const socket = config.mode === 'udp' ? native.openUdpSocket(config.local, config.port) : native.openRawSocket(50, config.local);
const out = native.createEspSa({ spi: config.out.spi, aead: config.aead, key: Buffer.from(config.out.key, 'hex') });
const receiver = native.createEspSa({ spi: config.in.spi, aead: config.aead, key: Buffer.from(config.in.key, 'hex') });
const inbound = native.createEspInbound();
inbound.add(receiver);
const batch = native.createPacketBatch(16, 2048);
const results = native.createEspSlotResults(16);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const received = [];

function send(bytes) {
  bytes.copy(batch.data, 0);
  batch.offsets[0] = 0;
  batch.lengths[0] = bytes.length;
  batch.addrs[0] = remote;
  batch.ports[0] = config.port;
  if (socket.writeBatch(batch, 1) !== 1) throw new Error('send refused');
}

function seal(payload) {
  payload.copy(batch.data, 64);
  batch.offsets[0] = 64;
  batch.lengths[0] = payload.length;
  results.nextHeaders[0] = config.nextHeader;
  if (out.seal(batch, 1, results) !== 1) throw new Error('seal: ' + native.espOutcomeName(results.outcomes[0]));
  return Buffer.from(batch.data.subarray(batch.offsets[0], batch.offsets[0] + batch.lengths[0]));
}

/** Reads for up to waitMs, opening every ESP packet from the remote; returns how many arrived. */
async function collect(waitMs, until) {
  const deadline = Date.now() + waitMs;
  let arrived = 0;
  while (Date.now() < deadline && !(until && until())) {
    const n = socket.readBatch(batch);
    if (n === 0) { await sleep(5); continue; }
    for (let i = 0; i < n; i++) {
      if (batch.addrs[i] !== remote) continue;
      const start = i * batch.slotSize + batch.offsets[i];
      if (config.mode === 'raw') {
        const ihl = (batch.data[start] & 0x0f) * 4;
        batch.offsets[i] += ihl;
        batch.lengths[i] -= ihl;
      }
      const espStart = i * batch.slotSize + batch.offsets[i];
      const esp = Buffer.from(batch.data.subarray(espStart, espStart + batch.lengths[i])).toString('hex');
      // One slot at a time keeps the record in arrival order with its own outcome.
      const one = native.createPacketBatch(1, 2048);
      Buffer.from(esp, 'hex').copy(one.data, 0);
      one.offsets[0] = 0;
      one.lengths[0] = esp.length / 2;
      inbound.open(one, 1, results);
      received.push({
        port: batch.ports[i],
        esp,
        outcome: native.espOutcomeName(results.outcomes[0]),
        nextHeader: results.nextHeaders[0],
        payload: Buffer.from(one.data.subarray(one.offsets[0], one.offsets[0] + one.lengths[0])).toString('hex'),
      });
      arrived++;
    }
  }
  return arrived;
}

const sent = [];
for (const hex of config.payloads) {
  const packet = seal(Buffer.from(hex, 'hex'));
  sent.push(packet.toString('hex'));
  send(packet);
  const before = received.length;
  await collect(config.waitMs, () => received.length > before);
}
let extrasAnswered = 0;
for (const extra of config.extras ?? []) {
  if (extra === 'tamper') {
    // A fresh sequence number, so the peer's window lets it through to the ICV check.
    const tampered = seal(Buffer.from(config.payloads[0], 'hex'));
    tampered[20] ^= 0x01;
    send(tampered);
  } else if (extra === 'replay') {
    send(Buffer.from(sent[0], 'hex'));
  } else if (extra === 'cleartext') {
    const raw = native.openRawSocket(config.nextHeader, config.local);
    const payload = Buffer.from(config.payloads[0], 'hex');
    payload.copy(batch.data, 0);
    batch.offsets[0] = 0;
    batch.lengths[0] = payload.length;
    batch.addrs[0] = remote;
    raw.writeBatch(batch, 1);
    raw.close();
  }
  extrasAnswered += await collect(config.extrasWaitMs ?? config.waitMs);
}
socket.close();
console.log(JSON.stringify({ sent, received, extrasAnswered, counters: receiver.counters(), sealed: out.counters(), inbound: inbound.counters() }));
`;
