import { TunnelError } from '../../shared/errors.js';
import type { EncryptSetting } from '../registry/peer-encryption-store.js';

/** What decides whether one peer encrypts. */
export interface EndEncryptFacts {
  /** `peer set NAME --encrypt on|off`, or null for the default. */
  setting: EncryptSetting;
  /**
   * True for a member running tunnel-client (it has a control session: the hub hands it SAs and
   * rekeys them); false for a router applying a rendered config, which must be given its SAs by
   * hand and so encrypts only when the operator says `on`.
   */
  member: boolean;
}

/** Whether one peer encrypts: its setting, else the hub's default for members, else (a router) no. */
export function peerEncrypts(end: EndEncryptFacts, hubDefault: boolean): boolean {
  if (end.setting !== null) return end.setting === 'on';
  return end.member && hubDefault;
}

/** A link is encrypted when both of its ends encrypt (the hub's end of a hub link always can). */
export function linkEncrypted(a: EndEncryptFacts, b: EndEncryptFacts, hubDefault: boolean): boolean {
  return peerEncrypts(a, hubDefault) && peerEncrypts(b, hubDefault);
}

/**
 * SAs travel only over a channel that is itself encrypted (wss:// or SSH). A member whose link
 * must be encrypted but which came over plain ws:// is refused, with what to do, before anything
 * is configured: its link never comes up in the clear instead.
 */
export function refuseInsecureChannel(peer: string, channelEncrypted: boolean): void {
  if (channelEncrypted) return;
  throw new TunnelError('ERR_INSECURE_CHANNEL',
    `${peer}'s links are encrypted and their keys never cross plain ws://: connect with wss:// (the hub needs --tls-cert) or ssh://`);
}
