/**
 * Sends three raw ESP packets (IP protocol 50) from FROM to TO that TO must refuse, each carrying
 * a GRE-framed ICMP echo: a replay (the SA SPI/KEY sealed afresh from sequence 1, long since
 * taken), a tampered one (a fresh sequence number, one ciphertext bit flipped) and one under an
 * SPI TO does not have. KEY is hex with its salt; AEAD an EspAead. Prints { sent }.
 */
import { createEspSa, createEspSlotResults, createPacketBatch, openRawSocket, type EspAead, type EspSecurityAssociation } from '../../native/index.js';
import { ipv4ToNumber } from '../../shared/wire/ipv4-address.js';
import { fillSlot } from './batch-slots.js';
import { scriptArgs } from './script-args.js';

const { from, to, spi, key, aead } = scriptArgs('from', 'to', 'spi', 'key', 'aead');
const socket = openRawSocket(50, from);
const batch = createPacketBatch(1, 2048);
const results = createEspSlotResults(1);
const gre = Buffer.from('000008004500001c00004000400100000a4000020a40000108004d5a00010001', 'hex');

function send(sa: EspSecurityAssociation, flip: boolean): void {
  fillSlot(batch, 0, gre, 64);
  results.nextHeaders[0] = 47;
  if (sa.seal(batch, 1, results) !== 1) throw new Error('seal refused');
  if (flip) batch.data[(batch.offsets[0] ?? 0) + 20]! ^= 1;
  batch.addrs[0] = ipv4ToNumber(to);
  if (socket.writeBatch(batch, 1) !== 1) throw new Error('send refused');
}

const keyBytes = Buffer.from(key, 'hex');
const espAead = aead as EspAead;
send(createEspSa({ spi: Number(spi), aead: espAead, key: keyBytes }), false);
send(createEspSa({ spi: Number(spi), aead: espAead, key: keyBytes, firstSequence: 0x70000000 }), true);
send(createEspSa({ spi: 0x0bad0bad, aead: espAead, key: keyBytes }), false);
socket.close();
console.log(JSON.stringify({ sent: 3 }));
