import { TunnelError } from '../errors.js';
import { keyHex, protectedProtocols, spiHex, type LinkEspKeys } from './link-esp-keys.js';
import { isIpv6Path, perspectiveOf, requireRemote, type LinkTable } from './link-table.js';

/** Linux's names of the AEADs, with the 128-bit ICV both use. */
const XFRM_AEAD: Readonly<Record<LinkEspKeys['aead'], string>> = {
  'aes-gcm': "'rfc4106(gcm(aes))'",
  'chacha20-poly1305': "'rfc7539esp(chacha20,poly1305)'",
};

/** What the xfrm rendering needs besides the table and the keys. */
export interface XfrmOptions {
  /** This end's address in the states and policies; default the table's public address of this end. */
  local?: string;
}

/**
 * `ip xfrm` commands that encrypt this end of a link with transport-mode ESP, as the hub's
 * datapath speaks it (native/README.md "ESP"): one state per direction (`aead … 128`, ICV of 16
 * bytes), and policies in both directions for the protocol the tunnel carries (47 for GRE and
 * gretap, 4 and 41 for IPIP). No `replay-window`: these SAs are static, so a restarted hub starts
 * its sequence numbers at 1 again, which a window would refuse until the next `peer rekey`. ESP
 * in UDP needs a socket with UDP_ENCAP_ESPINUDP on port 4500 that only an IKE daemon opens, so it
 * is refused; so is a link whose own address the hub has not seen yet (states name both ends).
 * Source: ip-xfrm(8), "ip xfrm state add … mode transport aead ALGO-NAME ALGO-KEYMAT ALGO-ICV-LEN",
 * "ip xfrm policy add SELECTOR dir DIR tmpl … proto esp mode transport".
 */
export function renderXfrm(table: LinkTable, myName: string, esp: LinkEspKeys, options: XfrmOptions = {}): string[] {
  const view = perspectiveOf(table, myName);
  const remote = requireRemote(view);
  if (esp.path === 'udp') {
    throw new TunnelError('ERR_TARGET_UNSUPPORTED', `a kernel config cannot receive ESP in UDP without an IKE daemon's UDP_ENCAP_ESPINUDP socket; run \`tunnel-hub peer pin ${myName} --encap gre\` (raw ESP) on the hub`);
  }
  const local = options.local ?? view.mine.public;
  if (local === null) {
    throw new TunnelError('ERR_STATE', `the public address of "${view.mine.name}" is not known yet; ESP states name it: render again after it reported its address`);
  }
  const host = isIpv6Path(remote) ? 128 : 32;
  const aead = XFRM_AEAD[esp.aead];
  const lines = [
    `ip xfrm state add src ${local} dst ${remote} proto esp spi ${spiHex(esp.outbound.spi)} mode transport aead ${aead} ${keyHex(esp.outbound)} 128`,
    `ip xfrm state add src ${remote} dst ${local} proto esp spi ${spiHex(esp.inbound.spi)} mode transport aead ${aead} ${keyHex(esp.inbound)} 128`,
  ];
  for (const proto of protectedProtocols(table.encap)) {
    lines.push(
      `ip xfrm policy add src ${local}/${host} dst ${remote}/${host} proto ${proto} dir out tmpl src ${local} dst ${remote} proto esp mode transport`,
      `ip xfrm policy add src ${remote}/${host} dst ${local}/${host} proto ${proto} dir in tmpl src ${remote} dst ${local} proto esp mode transport`,
    );
  }
  return lines;
}
