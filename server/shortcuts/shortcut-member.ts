import type { ShortcutMode } from './shortcut-options.js';

/** What the shortcut decisions need to know about one member. */
export interface ShortcutMember {
  readonly name: string;
  /** `peer set NAME --shortcuts on|off` (on unless the operator said off). */
  readonly shortcuts: boolean;
  /**
   * It runs `tunnel-client` (a session with the hub that can punch and verify a path). A router
   * on a rendered kernel config cannot, and takes no part.
   */
  readonly runsClient: boolean;
  /** `connected`: its session is up; `left`: its session ended; `revoked`: `peer revoke`. */
  readonly state: 'connected' | 'left' | 'revoked';
  /** The address:port the hub verified for it now, or null. */
  readonly endpoint: string | null;
}

/** True when the member may have shortcuts now: the hub's mode is auto and the member is on, runs the client and is connected. */
export function memberTakesPart(member: ShortcutMember | undefined, mode: ShortcutMode): boolean {
  return mode === 'auto' && member !== undefined && member.shortcuts && member.runsClient && member.state === 'connected';
}
