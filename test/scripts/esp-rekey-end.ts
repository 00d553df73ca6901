/**
 * One end of an encrypted gre tunnel on the real engine (fast path on), which rekeys itself
 * make-before-break at the given wall-clock times: takes the new inbound SA beside the old one,
 * then sends with the new outbound SA, then drops the old inbound one, each a plain update().
 * Its one argument is an EspRekeyEndConfig as JSON; it prints `ready` once up, then an
 * EspRekeyEndResult line at `endAt`.
 */
import { DatapathEngine } from '../../shared/datapath/datapath-engine.js';
import { nativeDatapathIo } from '../../shared/datapath/native-datapath-io.js';
import type { TunnelEspInput } from '../../shared/datapath/tunnel-esp.js';
import type { TunnelStatus } from '../../shared/datapath/tunnel-status.js';
import { scriptArgs } from './script-args.js';

/** An SA as the test writes it: its key (with salt) in hex. */
export interface HexSa {
  spi: number;
  key: string;
}

/** The tunnel's ends and addresses, the two outbound and two inbound SAs, and when (ms since the epoch) each step runs. */
export interface EspRekeyEndConfig {
  local: string;
  remote: string;
  address: string;
  peer: string;
  out: [HexSa, HexSa];
  in: [HexSa, HexSa];
  steps: [number, number, number];
  endAt: number;
}

/** What each step left (inbound SPIs, outbound SPI, inbound SPIs) and the tunnel's status at the end. */
export interface EspRekeyEndResult {
  steps: (number[] | number | null)[];
  spiIn: number[];
  spiOut: number | null;
  drops: TunnelStatus['dropsByReason'];
  fastPath: TunnelStatus['fastPath'];
  rx: TunnelStatus['rx'];
  tx: TunnelStatus['tx'];
}

const c = JSON.parse(scriptArgs('config').config) as EspRekeyEndConfig;
const sa = (s: HexSa): { spi: number; key: Buffer } => ({ spi: s.spi, key: Buffer.from(s.key, 'hex') });
const esp = (outbound: HexSa, inbound: HexSa[]): TunnelEspInput => ({ aead: 'aes-gcm', outbound: sa(outbound), inbound: inbound.map(sa) });
const engine = new DatapathEngine(nativeDatapathIo);
await engine.addTunnel({ name: 'trk0', encap: 'gre', local: c.local, remote: c.remote, address: c.address, peerAddress: c.peer,
  keepaliveInterval: 1, esp: esp(c.out[0], [c.in[0]]) });
const at = (time: number, step: () => Promise<unknown>): void => {
  setTimeout(() => void step(), Math.max(0, time - Date.now()));
};
const steps: EspRekeyEndResult['steps'] = [];
/** Applies an update, then reads the tunnel's status (update resolves with nothing). */
const updated = async (update: Parameters<DatapathEngine['update']>[1]) => {
  await engine.update('trk0', update);
  return engine.tunnelStatus('trk0');
};
at(c.steps[0], async () => steps.push((await updated({ esp: esp(c.out[0], [c.in[0], c.in[1]]) })).spiIn));
at(c.steps[1], async () => steps.push((await updated({ esp: esp(c.out[1], [c.in[0], c.in[1]]) })).spiOut));
at(c.steps[2], async () => steps.push((await updated({ esp: esp(c.out[1], [c.in[1]]) })).spiIn));
at(c.endAt, async () => {
  const s = engine.tunnelStatus('trk0');
  await engine.close();
  const result: EspRekeyEndResult = { steps, spiIn: s.spiIn, spiOut: s.spiOut, drops: s.dropsByReason, fastPath: s.fastPath, rx: s.rx, tx: s.tx };
  console.log(JSON.stringify(result));
});
console.log('ready');
