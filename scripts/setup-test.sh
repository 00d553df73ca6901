#!/bin/sh
# Installs the Debian packages the test tiers use: network tools for netns, PostgreSQL for the
# cluster tests, FRR for OSPF over tunnels, ddclient and dropbear as real router clients,
# prometheus for promtool, chromium for the status page, qemu and busybox for the kernel peer,
# fastd and wireguard-go (with wireguard-tools' wg), the peers the datapath benchmark runs beside,
# and tshark, which decrypts the datapath's ESP in a test; then prepares the kernel peer (Debian's
# kernel package, fetched with apt-get download, and its initramfs). Idempotent; needs root.
set -eu
packages="iproute2 nftables iperf3 conntrack openssh-client util-linux iputils-ping tcpdump fastd
  postgresql frr ddclient dropbear-bin prometheus chromium qemu-system-x86 busybox-static
  cpio kmod curl openssl systemd procps psmisc wireguard-go wireguard-tools tshark"
need=""
for pkg in $packages; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || need="$need $pkg"
done
if [ -n "$need" ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup-test: missing$need; run as root to install them (the tests that need them report themselves skipped)" >&2
    exit 0
  fi
  echo "setup-test: installing$need"
  # Packages such as postgresql, frr and ddclient start a daemon on install; tests run their own
  # instances inside namespaces, so forbid every start while installing.
  policy=/usr/sbin/policy-rc.d
  had_policy=0
  [ -e "$policy" ] && had_policy=1
  if [ "$had_policy" -eq 0 ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
  fi
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need >/dev/null
  [ "$had_policy" -eq 0 ] && rm -f "$policy"
fi
if [ "$(id -u)" -eq 0 ]; then
  sh "$(dirname "$0")/kernel-peer/prepare.sh" >/dev/null
else
  echo "setup-test: not root, so no kernel peer (the kernel tests report themselves skipped)" >&2
fi
echo "setup-test: ready"
