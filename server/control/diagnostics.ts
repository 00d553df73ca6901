import { channel } from 'node:diagnostics_channel';

/** A peer's session passed authentication and `hello`: `{ peer, session, transport, seen, reported }`. */
export const sessionEstablished = channel('tunnel:session:established');
/** A session ended: `{ peer, session, code }` (code null for a clean close). */
export const sessionClosed = channel('tunnel:session:closed');
/** New specs for both ends of a link: `{ peer, version, remote, hubApplied }`. */
export const sessionReconfigured = channel('tunnel:session:reconfigured');
/** A client acknowledged a config version: `{ peer, version }`. */
export const sessionAcked = channel('tunnel:session:acked');
/** A connection was refused before a session existed: `{ transport, code, remoteAddress }`. */
export const sessionRefused = channel('tunnel:session:refused');
