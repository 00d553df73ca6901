/**
 * ESP seal and open per packet on one core: 1400-byte payloads in batches of 64 through the
 * addon's batch calls (the code the forwarding thread will run, plus one N-API crossing per
 * batch), for each AEAD. Prints CPU ns per packet (user + system time of this process, so a
 * busy shared machine does not inflate it; `openssl speed` counts CPU time too) and Gbit/s of
 * payload for seal, open and both.
 * Beside it in the same run: the same AEAD per packet through node:crypto (what ESP written in
 * JS would cost), and `openssl speed -aead` when the openssl tool is there (the cipher alone,
 * this machine's ceiling). Run it pinned: `taskset -c 1 node dist/bench/esp.js`.
 */
import { execFileSync } from 'node:child_process';
import { createCipheriv, createDecipheriv, randomBytes, type CipherGCM, type DecipherGCM } from 'node:crypto';
import { createEspInbound, createEspSa, createEspSlotResults, createPacketBatch, type EspAead } from '../native/index.js';

const PAYLOAD = 1400;
const BATCH = 64;
const SLOT = 2048;
const HEADROOM = 64;
const ROUND_MS = 400;
const ROUNDS = 7;

interface Case {
  label: string;
  aead: EspAead;
  keyBytes: number;
  node: string;
  openssl: string;
}

const CASES: Case[] = [
  { label: 'AES-GCM-128', aead: 'aes-gcm', keyBytes: 20, node: 'aes-128-gcm', openssl: 'aes-128-gcm' },
  { label: 'AES-GCM-256', aead: 'aes-gcm', keyBytes: 36, node: 'aes-256-gcm', openssl: 'aes-256-gcm' },
  { label: 'ChaCha20-Poly1305', aead: 'chacha20-poly1305', keyBytes: 36, node: 'chacha20-poly1305', openssl: 'chacha20-poly1305' },
];

interface Figures {
  seal: number;
  open: number;
}

/** CPU time of this process in ns (getrusage: user + system). */
function cpuNs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) * 1000;
}

/** Minimum over rounds of CPU ns per packet: the least disturbed run on a shared machine. */
function addonFigures(c: Case): Figures {
  const key = randomBytes(c.keyBytes);
  const sender = createEspSa({ spi: 0x1001, aead: c.aead, key });
  const inbound = createEspInbound();
  const results = createEspSlotResults(BATCH);
  const batch = createPacketBatch(BATCH, SLOT);
  randomBytes(BATCH * SLOT).copy(batch.data);
  results.nextHeaders.fill(47);
  let best: Figures = { seal: Infinity, open: Infinity };
  for (let round = 0; round < ROUNDS + 1; round++) {
    // A fresh receiving SA per round: the sender's sequence numbers keep rising either way.
    inbound.remove(0x1001);
    inbound.add(createEspSa({ spi: 0x1001, aead: c.aead, key }));
    let sealNs = 0;
    let openNs = 0;
    let packets = 0;
    const deadline = process.hrtime.bigint() + BigInt(ROUND_MS) * 1_000_000n;
    while (process.hrtime.bigint() < deadline) {
      batch.offsets.fill(HEADROOM);
      batch.lengths.fill(PAYLOAD);
      const t0 = cpuNs();
      const sealed = sender.seal(batch, BATCH, results);
      const t1 = cpuNs();
      const opened = inbound.open(batch, BATCH, results);
      const t2 = cpuNs();
      if (sealed !== BATCH || opened !== BATCH) throw new Error(`sealed ${sealed}, opened ${opened} of ${BATCH}`);
      sealNs += t1 - t0;
      openNs += t2 - t1;
      packets += BATCH;
    }
    // Round 0 warms up.
    if (round === 0) continue;
    best = { seal: Math.min(best.seal, sealNs / packets), open: Math.min(best.open, openNs / packets) };
  }
  return best;
}

/** The same work with node:crypto, one cipher object per packet as its API requires, timed per batch like the addon. */
function nodeFigures(c: Case): Figures {
  const key = randomBytes(c.keyBytes - 4);
  const aad = randomBytes(8);
  const payload = randomBytes(PAYLOAD + 4);
  const nonces = Array.from({ length: BATCH }, () => randomBytes(12));
  const sealed: Buffer[] = new Array<Buffer>(BATCH);
  const tags: Buffer[] = new Array<Buffer>(BATCH);
  let best: Figures = { seal: Infinity, open: Infinity };
  for (let round = 0; round < ROUNDS + 1; round++) {
    let sealNs = 0;
    let openNs = 0;
    let packets = 0;
    const deadline = process.hrtime.bigint() + BigInt(ROUND_MS) * 1_000_000n;
    while (process.hrtime.bigint() < deadline) {
      const t0 = cpuNs();
      for (let i = 0; i < BATCH; i++) {
        const cipher = createCipheriv(c.node as 'aes-128-gcm', key, nonces[i]!, { authTagLength: 16 }) as CipherGCM;
        cipher.setAAD(aad);
        sealed[i] = Buffer.concat([cipher.update(payload), cipher.final()]);
        tags[i] = cipher.getAuthTag();
      }
      const t1 = cpuNs();
      for (let i = 0; i < BATCH; i++) {
        const decipher = createDecipheriv(c.node as 'aes-128-gcm', key, nonces[i]!, { authTagLength: 16 }) as DecipherGCM;
        decipher.setAAD(aad);
        decipher.setAuthTag(tags[i]!);
        decipher.update(sealed[i]!);
        decipher.final();
      }
      const t2 = cpuNs();
      sealNs += t1 - t0;
      openNs += t2 - t1;
      packets += BATCH;
    }
    if (round === 0) continue;
    best = { seal: Math.min(best.seal, sealNs / packets), open: Math.min(best.open, openNs / packets) };
  }
  return best;
}

/** ns per 1424-byte AEAD operation (payload + trailer) from `openssl speed -aead`, or null without the tool. */
function opensslNs(c: Case): number | null {
  try {
    const out = execFileSync('openssl', ['speed', '-evp', c.openssl, '-aead', '-bytes', String(PAYLOAD + 4), '-seconds', '1'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const match = /(\d+(?:\.\d+)?)k\s*$/m.exec(out);
    if (match === null) return null;
    return ((PAYLOAD + 4) / (Number(match[1]) * 1000)) * 1e9;
  } catch {
    return null;
  }
}

function gbit(ns: number): string {
  return ((PAYLOAD * 8) / ns).toFixed(2);
}

function row(label: string, seal: number, open: number | null): string {
  const both = open === null ? null : seal + open;
  const cells = [
    label.padEnd(44),
    `${seal.toFixed(0).padStart(6)} ns ${gbit(seal).padStart(6)} Gbit/s`,
    open === null ? ''.padStart(22) : `${open.toFixed(0).padStart(6)} ns ${gbit(open).padStart(6)} Gbit/s`,
    both === null ? '' : `${both.toFixed(0).padStart(6)} ns ${gbit(both).padStart(6)} Gbit/s`,
  ];
  return cells.join('  ');
}

function main(): void {
  console.log(`ESP per packet: ${PAYLOAD}-byte payload, batches of ${BATCH}, one core, minimum of ${ROUNDS} rounds of ${ROUND_MS} ms`);
  console.log(`${'case'.padEnd(44)}  ${'seal'.padEnd(22)}  ${'open'.padEnd(22)}  seal + open`);
  for (const c of CASES) {
    const addon = addonFigures(c);
    console.log(row(`${c.label}: addon batch (shipped)`, addon.seal, addon.open));
    const node = nodeFigures(c);
    console.log(row(`${c.label}: node:crypto per packet (peer)`, node.seal, node.open));
    const ceiling = opensslNs(c);
    if (ceiling !== null) console.log(row(`${c.label}: openssl speed -aead (cipher only)`, ceiling, null));
  }
}

main();
