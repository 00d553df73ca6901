#!/bin/sh
# Installs the Debian tools the netns tests use, and fastd, the peer the datapath benchmark runs beside. Idempotent; needs root for apt-get.
set -eu
need=""
for pair in ip:iproute2 nft:nftables iperf3:iperf3 conntrack:conntrack ssh:openssh-client setpriv:util-linux ping:iputils-ping tcpdump:tcpdump fastd:fastd; do
  cmd=${pair%%:*}; pkg=${pair#*:}
  command -v "$cmd" >/dev/null 2>&1 || need="$need $pkg"
done
if [ -n "$need" ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup-test: missing$need; run as root to install them (netns tests will be skipped)" >&2
    exit 0
  fi
  echo "setup-test: installing$need"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need >/dev/null
fi
echo "setup-test: ready"
