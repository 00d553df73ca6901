/**
 * Talks ESP with a peer through the project's addon: seals each given payload with an outbound
 * SA, sends it on a raw ESP socket (protocol 50) or a UDP socket (ESP in UDP), and opens what
 * comes back with an inbound SA. Its one argument is an EspExchangeConfig as JSON; it prints one
 * EspExchange line. With extras, after the payloads it also sends the first payload sealed afresh
 * with one ciphertext bit flipped, the first packet again, and (raw mode) the first payload as
 * cleartext on a raw socket of protocol `nextHeader`; `extrasAnswered` counts what came back for those.
 */
import {
  createEspInbound, createEspSa, createEspSlotResults, createPacketBatch, espOutcomeName, openRawSocket, openUdpSocket,
  type EspAead, type EspInboundCounters, type EspSaCounters, type RawProtocol,
} from '../../native/index.js';
import { ipv4ToNumber } from '../../shared/wire/ipv4-address.js';
import { fillSlot, slotBytes } from './batch-slots.js';
import { scriptArgs } from './script-args.js';

/** What to exchange. Keys are hex with their salt, as `ip xfrm` takes them. */
export interface EspExchangeConfig {
  mode: 'raw' | 'udp';
  local: string;
  remote: string;
  port: number;
  aead: EspAead;
  out: { spi: number; key: string };
  in: { spi: number; key: string };
  /** Payloads to seal and send (hex), one at a time, each followed by a wait of up to waitMs for an answer. */
  payloads: string[];
  nextHeader: number;
  waitMs: number;
  extras?: ('tamper' | 'replay' | 'cleartext')[];
  /** How long to listen after each extra (default waitMs). */
  extrasWaitMs?: number;
}

/**
 * What happened: `sent` are the ESP packets as they left; each received entry is one ESP packet
 * that arrived from `remote` (its outer IPv4 header removed; `port` its UDP source port), opened.
 */
export interface EspExchange {
  sent: string[];
  received: { port: number; esp: string; outcome: string; nextHeader: number; payload: string }[];
  extrasAnswered: number;
  counters: EspSaCounters;
  sealed: EspSaCounters;
  inbound: EspInboundCounters;
}

const config = JSON.parse(scriptArgs('config').config) as EspExchangeConfig;
const remote = ipv4ToNumber(config.remote);
const socket = config.mode === 'udp' ? openUdpSocket(config.local, config.port) : openRawSocket(50, config.local);
const out = createEspSa({ spi: config.out.spi, aead: config.aead, key: Buffer.from(config.out.key, 'hex') });
const receiver = createEspSa({ spi: config.in.spi, aead: config.aead, key: Buffer.from(config.in.key, 'hex') });
const inbound = createEspInbound();
inbound.add(receiver);
const batch = createPacketBatch(16, 2048);
const results = createEspSlotResults(16);
const received: EspExchange['received'] = [];

function send(bytes: Buffer): void {
  fillSlot(batch, 0, bytes);
  batch.addrs[0] = remote;
  batch.ports[0] = config.port;
  if (socket.writeBatch(batch, 1) !== 1) throw new Error('send refused');
}

function seal(payload: Buffer): Buffer {
  fillSlot(batch, 0, payload, 64);
  results.nextHeaders[0] = config.nextHeader;
  if (out.seal(batch, 1, results) !== 1) throw new Error(`seal: ${espOutcomeName(results.outcomes[0]!)}`);
  return Buffer.from(slotBytes(batch, 0));
}

/** Opens every ESP packet from the remote that can be read now, in arrival order. */
function readArrivals(): void {
  for (let n; (n = socket.readBatch(batch)) > 0;) {
    for (let i = 0; i < n; i++) {
      if (batch.addrs[i] !== remote) continue;
      const packet = slotBytes(batch, i);
      const espBytes = config.mode === 'raw' ? packet.subarray((packet[0]! & 0x0f) * 4) : packet;
      const esp = Buffer.from(espBytes).toString('hex');
      // One slot at a time keeps the record in arrival order with its own outcome.
      const one = createPacketBatch(1, 2048);
      fillSlot(one, 0, espBytes);
      inbound.open(one, 1, results);
      received.push({
        port: batch.ports[i]!,
        esp,
        outcome: espOutcomeName(results.outcomes[0]!),
        nextHeader: results.nextHeaders[0]!,
        payload: Buffer.from(slotBytes(one, 0)).toString('hex'),
      });
    }
  }
}

let arrived: (() => void) | null = null;
socket.onReadable(() => {
  readArrivals();
  arrived?.();
});

/** Listens up to `waitMs`, or until `enough` says so after an arrival; returns how many packets arrived meanwhile. */
async function collect(waitMs: number, enough?: () => boolean): Promise<number> {
  const before = received.length;
  await new Promise<void>((done) => {
    const finish = (): void => {
      clearTimeout(timer);
      arrived = null;
      done();
    };
    const timer = setTimeout(finish, waitMs);
    arrived = () => {
      if (enough?.() === true) finish();
    };
  });
  return received.length - before;
}

const sent: string[] = [];
for (const hex of config.payloads) {
  const packet = seal(Buffer.from(hex, 'hex'));
  sent.push(packet.toString('hex'));
  send(packet);
  const before = received.length;
  await collect(config.waitMs, () => received.length > before);
}
let extrasAnswered = 0;
for (const extra of config.extras ?? []) {
  const first = config.payloads[0]!;
  if (extra === 'tamper') {
    // A fresh sequence number, so the peer's window lets it through to the ICV check.
    const tampered = seal(Buffer.from(first, 'hex'));
    tampered[20]! ^= 0x01;
    send(tampered);
  } else if (extra === 'replay') {
    send(Buffer.from(sent[0]!, 'hex'));
  } else {
    const raw = openRawSocket(config.nextHeader as RawProtocol, config.local);
    fillSlot(batch, 0, Buffer.from(first, 'hex'));
    batch.addrs[0] = remote;
    raw.writeBatch(batch, 1);
    raw.close();
  }
  extrasAnswered += await collect(config.extrasWaitMs ?? config.waitMs);
}
socket.close();
const exchange: EspExchange = { sent, received, extrasAnswered, counters: receiver.counters(), sealed: out.counters(), inbound: inbound.counters() };
console.log(JSON.stringify(exchange));
