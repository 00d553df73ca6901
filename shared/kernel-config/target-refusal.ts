import { TunnelError } from '../errors.js';

/** The hub's end of a hub link is named `hub` in every link table (docs/cli.md). */
const HUB_END = 'hub';

/**
 * Refuses a link whose encapsulation a target cannot carry, naming the fix: pin the peer to an
 * encapsulation the target has (`tunnel-hub peer pin`).
 */
export function refuseEncap(target: string, encap: string, otherEnd: string, myName: string): never {
  const who = otherEnd === HUB_END ? myName : `${myName} (or ${otherEnd})`;
  throw new TunnelError('ERR_TARGET_UNSUPPORTED', `${target} cannot carry ${encap}; run \`tunnel-hub peer pin ${who} --encap gre\` (or ipip) on the hub`);
}

/**
 * Refuses a GRE key on a target that cannot set one, naming the fix: a keyless hub link
 * (`tunnel-hub peer set NAME --no-key`), or IPIP for a link between two peers.
 */
export function refuseKey(target: string, otherEnd: string, myName: string): never {
  const fix = otherEnd === HUB_END
    ? `run \`tunnel-hub peer set ${myName} --no-key\` on the hub (the hub then tells this link apart by its source address)`
    : `run \`tunnel-hub peer pin ${myName} --encap ipip\` on the hub (only hub links can run without a key)`;
  throw new TunnelError('ERR_TARGET_UNSUPPORTED', `${target} cannot set a GRE key; ${fix}`);
}
