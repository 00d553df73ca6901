import { chmodSync, writeFileSync } from 'node:fs';

/** Both directions of an encrypted link as `ip xfrm` and `tunnel-client up --esp` take them. */
export interface EspLink {
  aead: 'aes-gcm' | 'chacha20-poly1305';
  /** What `ip xfrm state … aead` calls it. */
  xfrmName: string;
  /** Sealed by our end (the peer's inbound SA). */
  out: { spi: number; key: string };
  /** Opened by our end (the peer's outbound SA). */
  in: { spi: number; key: string };
  /** ESP in UDP port of both ends, or null for raw ESP. */
  udpPort: number | null;
}

/** Writes `up --esp`'s file for our end of `link` at `path`, mode 0600. */
export function writeEspFile(path: string, link: EspLink, ours = true): void {
  const out = ours ? link.out : link.in;
  const inbound = ours ? link.in : link.out;
  const lines = [
    `aead = ${link.aead}`,
    `spi-out = 0x${out.spi.toString(16)}`,
    `key-out = 0x${out.key}`,
    `spi-in = 0x${inbound.spi.toString(16)}`,
    `key-in = 0x${inbound.key}`,
    ...(link.udpPort === null ? [] : [`udp = ${link.udpPort}`]),
  ];
  writeFileSync(path, `${lines.join('\n')}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
}

/**
 * The peer's `ip xfrm` lines for a GRE tunnel from `peer` to `us` (protocol 47 both ways, transport
 * mode): its states (it seals with our inbound SA, opens with our outbound one) and policies.
 */
export function xfrmLinesFor(link: EspLink, peer: string, us: string): string[] {
  const encap = link.udpPort === null ? '' : ` encap espinudp ${link.udpPort} ${link.udpPort} 0.0.0.0`;
  return [
    `ip xfrm state add src ${us} dst ${peer} proto esp spi ${String(link.out.spi)} mode transport replay-window 128 aead '${link.xfrmName}' 0x${link.out.key} 128${encap}`,
    `ip xfrm state add src ${peer} dst ${us} proto esp spi ${String(link.in.spi)} mode transport aead '${link.xfrmName}' 0x${link.in.key} 128${encap}`,
    `ip xfrm policy add src ${peer} dst ${us} proto 47 dir out tmpl src ${peer} dst ${us} proto esp mode transport`,
    `ip xfrm policy add src ${us} dst ${peer} proto 47 dir in tmpl src ${us} dst ${peer} proto esp mode transport`,
  ];
}
