/** Run without privilege: what opening a TUN, a raw socket, changing an MTU and opening a UDP socket do. */
import { openRawSocket, openTun, openUdpSocket } from '../../native/index.js';
import { applyKernelChange } from '../../shared/system/apply-kernel-change.js';
import { NativeAttempts } from './native-attempts.js';

const attempts = new NativeAttempts();
await attempts.attempt('tun', () => openTun('tnt0'));
await attempts.attempt('raw', () => openRawSocket(47, '127.0.0.1'));
await attempts.attempt('mtu', () => applyKernelChange({ kind: 'set-mtu', link: 'lo', mtu: 1400 }));
await attempts.attempt('udp', () => openUdpSocket('127.0.0.1', 0).close());
console.log(JSON.stringify(attempts.outcomes));
