import { TunnelError } from '../errors.js';
import { keyHex, protectedProtocols, spiHex, type LinkEspKeys } from './link-esp-keys.js';
import { isIpv6Path, perspectiveOf, requireRemote, type LinkTable } from './link-table.js';

/** Where the ESP hooks go: hotplug sources every script of this folder on interface events, before the dyndns2 hook (95). */
export const ESP_HOTPLUG_DIR = '/etc/hotplug.d/iface';

/** Options for the OpenWrt ESP rendering. */
export interface OpenwrtEspOptions {
  /** The link's UCI section (the hook is named after it). */
  section: string;
  /** The logical WAN interface whose address the SAs name. */
  wan?: string;
}

const XFRM_AEAD: Readonly<Record<LinkEspKeys['aead'], string>> = {
  'aes-gcm': "'rfc4106(gcm(aes))'",
  'chacha20-poly1305': "'rfc7539esp(chacha20,poly1305)'",
};

/**
 * Installs (mode 0600: it holds the keys) and runs once an OpenWrt hotplug script that encrypts
 * this end of a link with transport-mode ESP, as `render-xfrm.ts` does for Linux, but with the
 * WAN's address of the moment: OpenWrt routers sit on dynamic addresses, and an ESP state names
 * the router's own address, so on every WAN `ifup` or `ifupdate` the script replaces both states
 * (found by SPI) with ones naming the new address. The policies name only the other end and stay.
 * Needs `ip-full` and the kernel's ESP (`kmod-ipsec4`/`kmod-ipsec6`, `kmod-crypto-gcm`). Raw ESP
 * only, as on Linux. Source: OpenWrt "Hotplug" and network.sh (`network_get_ipaddr`), ip-xfrm(8).
 */
export function renderOpenwrtEsp(table: LinkTable, myName: string, esp: LinkEspKeys, options: OpenwrtEspOptions): string[] {
  const view = perspectiveOf(table, myName);
  const remote = requireRemote(view);
  if (esp.path === 'udp') {
    throw new TunnelError('ERR_TARGET_UNSUPPORTED', `openwrt cannot receive ESP in UDP without an IKE daemon's UDP_ENCAP_ESPINUDP socket; run \`tunnel-hub peer pin ${myName} --encap gre\` (raw ESP) on the hub`);
  }
  if (!/^[A-Za-z0-9_]{1,10}$/.test(options.section)) {
    throw new TunnelError('ERR_INVALID_ARGUMENT', `OpenWrt section "${options.section}" must be 1-10 letters, digits or '_'`);
  }
  const wan = options.wan ?? 'wan';
  const v6 = isIpv6Path(remote);
  const [host, any, kmod] = v6 ? [128, '::/0', 'kmod-ipsec6'] : [32, '0.0.0.0/0', 'kmod-ipsec4'];
  const aead = XFRM_AEAD[esp.aead];
  const path = `${ESP_HOTPLUG_DIR}/94-tunnel-hub-esp-${options.section}`;
  return [
    `# ESP for this link: opkg install ip-full ${kmod} kmod-crypto-gcm; the hook below holds the keys (mode 0600)`,
    `cat >${path} <<'EOF'`,
    `[ "$INTERFACE" = "${wan}" ] || exit 0`,
    'case "$ACTION" in ifup|ifupdate) ;; *) exit 0 ;; esac',
    '. /lib/functions/network.sh',
    `${v6 ? 'network_get_ipaddr6' : 'network_get_ipaddr'} LOCAL ${wan} || exit 0`,
    `ip xfrm state deleteall proto esp spi ${spiHex(esp.outbound.spi)}`,
    `ip xfrm state deleteall proto esp spi ${spiHex(esp.inbound.spi)}`,
    `ip xfrm state add src "$LOCAL" dst ${remote} proto esp spi ${spiHex(esp.outbound.spi)} mode transport aead ${aead} ${keyHex(esp.outbound)} 128`,
    `ip xfrm state add src ${remote} dst "$LOCAL" proto esp spi ${spiHex(esp.inbound.spi)} mode transport aead ${aead} ${keyHex(esp.inbound)} 128`,
    ...protectedProtocols(table.encap).flatMap((proto) => [
      `ip xfrm policy update src ${any} dst ${remote}/${host} proto ${proto} dir out tmpl proto esp mode transport`,
      `ip xfrm policy update src ${remote}/${host} dst ${any} proto ${proto} dir in tmpl proto esp mode transport`,
    ]),
    'EOF',
    `chmod 600 ${path}`,
    `INTERFACE=${wan} ACTION=ifup sh ${path}`,
  ];
}
