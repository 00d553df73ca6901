import { TunnelError } from '../errors.js';
import { keyHex, spiHex, type LinkEspKeys } from './link-esp-keys.js';
import { isIpv6Path, perspectiveOf, requireRemote, type LinkTable } from './link-table.js';

/** FreeBSD's names of the AEADs: the key given with its 4-byte salt, as Linux takes it. */
const SETKEY_AEAD: Readonly<Record<LinkEspKeys['aead'], string>> = {
  'aes-gcm': 'aes-gcm-16',
  'chacha20-poly1305': 'chacha20-poly1305',
};

/**
 * FreeBSD `setkey -c` input that encrypts this end of a link with transport-mode ESP: an SA per
 * direction (`-E aes-gcm-16` with key and salt, 16-byte ICV) and security policies requiring ESP
 * for the tunnel's GRE (or IP in IP) both ways. Raw ESP only: manual ESP in UDP is not taken.
 * Source: setkey(8) (`add src dst esp spi -m transport -E algorithm key`, `spdadd … -P dir ipsec
 * esp/transport//require`) and ipsec(4) for aes-gcm-16.
 */
export function renderSetkey(table: LinkTable, myName: string, esp: LinkEspKeys): string[] {
  const view = perspectiveOf(table, myName);
  const remote = requireRemote(view);
  if (esp.path === 'udp') {
    throw new TunnelError('ERR_TARGET_UNSUPPORTED', `freebsd takes no manual ESP-in-UDP SAs; run \`tunnel-hub peer pin ${myName} --encap gre\` (raw ESP) on the hub`);
  }
  if (view.mine.public === null) {
    throw new TunnelError('ERR_STATE', `the public address of "${view.mine.name}" is not known yet; ESP SAs name it: render again after it reported its address`);
  }
  const local = view.mine.public;
  const host = isIpv6Path(remote) ? 128 : 32;
  const upper = table.encap === 'ipip' ? ['ipencap', 'ipv6'] : ['gre'];
  const algorithm = SETKEY_AEAD[esp.aead];
  return [
    "setkey -c <<'EOF'",
    `add ${local} ${remote} esp ${spiHex(esp.outbound.spi)} -m transport -E ${algorithm} ${keyHex(esp.outbound)};`,
    `add ${remote} ${local} esp ${spiHex(esp.inbound.spi)} -m transport -E ${algorithm} ${keyHex(esp.inbound)};`,
    ...upper.flatMap((proto) => [
      `spdadd ${local}/${host} ${remote}/${host} ${proto} -P out ipsec esp/transport//require;`,
      `spdadd ${remote}/${host} ${local}/${host} ${proto} -P in ipsec esp/transport//require;`,
    ]),
    'EOF',
  ];
}
