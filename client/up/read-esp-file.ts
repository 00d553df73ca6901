import { readFileSync, statSync } from 'node:fs';
import { TunnelError } from '../../shared/errors.js';
import type { TunnelEspInput } from '../../shared/datapath/tunnel-esp.js';

/**
 * Reads `tunnel-client up --esp FILE`: a static tunnel's SAs, as a small `name = value` file
 * (docs/cli.md), the same numbers an `ip xfrm state` line of the peer takes:
 *
 *   aead = aes-gcm            # or chacha20-poly1305
 *   spi-out = 0x00001001      # what this end seals with: the peer's inbound SA
 *   key-out = 0x…             # key ‖ 4-byte salt, hex: 20, 28 or 36 bytes (chacha20-poly1305: 36)
 *   spi-in = 0x00002001       # what this end opens with: the peer's outbound SA
 *   key-in = 0x…
 *   udp = 4500                # optional: ESP in UDP, this port both ends (or LOCAL:REMOTE)
 *
 * The file must be a regular file of mode 0600 (or stricter) owned by the user reading it.
 * Errors name the file, line and field, never a value from a key line.
 */
export function readEspFile(path: string): TunnelEspInput {
  let stat;
  try {
    stat = statSync(path);
  } catch (err) {
    throw new TunnelError('ERR_INVALID_CONFIG', `--esp ${path}: cannot read it (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  if (!stat.isFile()) throw new TunnelError('ERR_INVALID_CONFIG', `--esp ${path}: not a regular file`);
  if ((stat.mode & 0o077) !== 0) {
    throw new TunnelError('ERR_PERMISSION', `--esp ${path} holds keys but is mode ${(stat.mode & 0o777).toString(8).padStart(4, '0')}: make it 0600 (chmod 600)`);
  }
  const uid = process.getuid?.();
  if (uid !== undefined && stat.uid !== uid) {
    throw new TunnelError('ERR_PERMISSION', `--esp ${path} holds keys but belongs to uid ${stat.uid}, not to this user (uid ${uid})`);
  }
  return parseEspFile(readFileSync(path, 'utf8'), path);
}

const FIELDS = new Set(['aead', 'spi-out', 'key-out', 'spi-in', 'key-in', 'udp']);

/** Parses the text of an --esp file (see readEspFile); `where` names it in errors. */
export function parseEspFile(text: string, where: string): TunnelEspInput {
  const fields = new Map<string, { value: string; line: number }>();
  text.split('\n').forEach((raw, index) => {
    const line = raw.replace(/#.*$/, '').trim();
    if (line === '') return;
    const match = /^([a-z-]+)\s*=\s*(\S+)$/.exec(line);
    // Never quote the line: it may be a key.
    if (match === null) throw config(`${where} line ${index + 1}: expected "name = value"`);
    const [, name, value] = match as unknown as [string, string, string];
    if (!FIELDS.has(name)) throw config(`${where} line ${index + 1}: unknown field "${name}" (expected ${[...FIELDS].join(', ')})`);
    if (fields.has(name)) throw config(`${where} line ${index + 1}: ${name} given twice`);
    fields.set(name, { value, line: index + 1 });
  });
  const need = (name: string): { value: string; line: number } => {
    const field = fields.get(name);
    if (field === undefined) throw config(`${where}: ${name} is missing`);
    return field;
  };
  const aead = need('aead').value;
  if (aead !== 'aes-gcm' && aead !== 'chacha20-poly1305') throw config(`${where}: aead must be aes-gcm or chacha20-poly1305`);
  const udp = fields.get('udp');
  return {
    aead,
    outbound: { spi: spiOf(need('spi-out'), where, 'spi-out'), key: keyOf(need('key-out'), where, 'key-out') },
    inbound: [{ spi: spiOf(need('spi-in'), where, 'spi-in'), key: keyOf(need('key-in'), where, 'key-in') }],
    udp: udp === undefined ? null : portsOf(udp, where),
  };
}

function spiOf(field: { value: string; line: number }, where: string, name: string): number {
  const text = field.value;
  const spi = /^0x[0-9a-fA-F]{1,8}$/.test(text) ? Number.parseInt(text.slice(2), 16) : /^[0-9]{1,10}$/.test(text) ? Number(text) : NaN;
  if (!(spi >= 256 && spi <= 0xffff_ffff)) {
    throw new TunnelError('ERR_INVALID_ARGUMENT', `${where} line ${field.line}: ${name} must be 256..4294967295, decimal or 0x hex`);
  }
  return spi;
}

function keyOf(field: { value: string; line: number }, where: string, name: string): Buffer {
  const hex = field.value.startsWith('0x') ? field.value.slice(2) : field.value;
  if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length % 2 !== 0) {
    throw new TunnelError('ERR_INVALID_KEY', `${where} line ${field.line}: ${name} must be hex digits, key then 4-byte salt, as ip xfrm takes it`);
  }
  // Its length is checked against the AEAD with the rest of the spec (the message names lengths only).
  return Buffer.from(hex, 'hex');
}

function portsOf(field: { value: string; line: number }, where: string): { localPort: number; remotePort: number } {
  const match = /^([0-9]{1,5})(?::([0-9]{1,5}))?$/.exec(field.value);
  const localPort = match === null ? NaN : Number(match[1]);
  const remotePort = match === null ? NaN : Number(match[2] ?? match[1]);
  if (!(localPort >= 1 && localPort <= 65535 && remotePort >= 1 && remotePort <= 65535)) {
    throw new TunnelError('ERR_INVALID_ARGUMENT', `${where} line ${field.line}: udp must be PORT or LOCAL:REMOTE, each 1..65535`);
  }
  return { localPort, remotePort };
}

function config(message: string): TunnelError {
  return new TunnelError('ERR_INVALID_CONFIG', message);
}
