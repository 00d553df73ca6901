/**
 * The measured side of bench/native.ts, run inside namespace A: moves packets from one native
 * endpoint to another in JS, as the datapath does, and reports packets per second and CPU time
 * over a fixed window after a short warm-up.
 *   tun-to-raw BATCH SECONDS   read TUN bt0, send each packet on a raw GRE socket 192.0.2.1 -> .2
 *   udp-to-tun BATCH SECONDS   read UDP 192.0.2.1:5555, write each payload into TUN bt0
 *   udp-gro-to-tun BATCH SECONDS   the same with UDP receive offload on the socket
 * Prints `ready` once listening, then one JSON line of results.
 */
import { createPacketBatch, openRawSocket, openTun, openUdpSocket, type NativePacketEndpoint } from '../native/index.js';
import { parseIpv4Address } from '../shared/net/ipv4-address.js';
import { applyKernelChange } from '../shared/system/apply-kernel-change.js';
import { BENCH_TUN, BENCH_TUN_CIDR, FORWARDER_UDP_PORT, HOST_A, HOST_B } from './native-bench-lab.js';

const WARMUP_MS = 500;
// Batches moved per readiness callback before yielding, so timers still fire under full load.
const ROUNDS_PER_CALLBACK = 64;

async function main(): Promise<void> {
  const [mode, batchText, secondsText] = process.argv.slice(2);
  const batchSize = Number(batchText);
  const windowMs = Number(secondsText) * 1000;
  if ((mode !== 'tun-to-raw' && mode !== 'udp-to-tun' && mode !== 'udp-gro-to-tun') || !(batchSize >= 1) || !(windowMs > 0)) {
    throw new Error('usage: native-forwarder tun-to-raw|udp-to-tun|udp-gro-to-tun BATCH SECONDS');
  }
  const tun = openTun(BENCH_TUN);
  await applyKernelChange({ kind: 'add-address', link: BENCH_TUN, cidr: BENCH_TUN_CIDR });
  await applyKernelChange({ kind: 'set-up', link: BENCH_TUN, up: true });
  const toRaw = mode === 'tun-to-raw';
  const input: NativePacketEndpoint = toRaw ? tun : openUdpSocket(HOST_A, FORWARDER_UDP_PORT, { receiveOffload: mode === 'udp-gro-to-tun' });
  const output: NativePacketEndpoint = toRaw ? openRawSocket(47, HOST_A) : tun;
  const batch = createPacketBatch(batchSize, 2048);
  if (toRaw) batch.addrs.fill(parseIpv4Address(HOST_B));

  let forwarded = 0;
  let shortWrites = 0;
  let calls = 0;
  let window: { packets: number; calls: number; cpu: NodeJS.CpuUsage; start: bigint } | undefined;
  let started = false;

  input.onReadable(() => {
    if (!started) {
      started = true;
      setTimeout(openWindow, WARMUP_MS);
    }
    for (let round = 0; round < ROUNDS_PER_CALLBACK; round++) {
      const n = input.readBatch(batch);
      if (n === 0) return;
      calls++;
      const accepted = output.writeBatch(batch, n);
      forwarded += accepted;
      if (accepted < n) shortWrites++;
    }
  });

  function openWindow(): void {
    window = { packets: forwarded, calls, cpu: process.cpuUsage(), start: process.hrtime.bigint() };
    setTimeout(closeWindow, windowMs);
  }

  function closeWindow(): void {
    if (window === undefined) return;
    const seconds = Number(process.hrtime.bigint() - window.start) / 1e9;
    const cpu = process.cpuUsage(window.cpu);
    const packets = forwarded - window.packets;
    const report = {
      seconds,
      packets,
      pps: packets / seconds,
      packetsPerRead: packets / Math.max(1, calls - window.calls),
      cpuUserMs: cpu.user / 1000,
      cpuSystemMs: cpu.system / 1000,
      cpuMicrosPerPacket: packets > 0 ? (cpu.user + cpu.system) / packets : 0,
      forwardedTotal: forwarded,
      shortWrites,
      drops: { input: input.dropCounters(), output: output.dropCounters() },
    };
    input.close();
    output.close();
    console.log(JSON.stringify(report));
  }

  console.log('ready');
}

await main();
