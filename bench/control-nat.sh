#!/usr/bin/env bash
# bench:control-nat: end to end through a NAT, hub and members as the real CLIs. Builds
# hub ── wan ── c1 (public) and wan ── nat ── c2 (behind a masquerade that drops IP protocols 4
# and 47 and maps every new flow to a random port, like a carrier NAT), runs `tunnel-hub serve`,
# c1 joins over WebSocket (GRE), c2 over SSH (FOU, authenticated UDP binding). Then:
#  (a) 10 NAT re-mappings (conntrack -F in nat) while c2 pings the hub's inner address every
#      20 ms: the recovery gap is the longest gap between two replies; median and max;
#  (b) iperf3 TCP throughput c2 -> hub through the NAT (FOU) beside c1 -> hub on the public path (GRE).
# Needs root, iperf3 and conntrack.
set -euo pipefail
REMAPS=${REMAPS:-10}
SECONDS_IPERF=${SECONDS_IPERF:-5}
P="bn$$-"
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIR=$(mktemp -d /tmp/bench-control-nat-XXXXXX)
PIDS=()
ns() { ip netns exec "$P$1" "${@:2}"; }
# Background daemons run without the ns function: a function in the background is a subshell, and
# killing its pid would leave the node process behind.
bg() { local n=$1; shift; ip netns exec "$P$n" env TUNNEL_LOG_LEVEL=warn "$@" & PIDS+=($!); }
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  for n in hub wan c1 nat c2; do ip netns del "$P$n" 2>/dev/null || true; done
  rm -rf "$DIR"
}
trap cleanup EXIT
[ "$(id -u)" = 0 ] || { echo "bench:control-nat needs root (network namespaces)" >&2; exit 1; }

for n in hub wan c1 nat c2; do ip netns add "$P$n"; ns "$n" ip link set lo up; done
link() { # link NS_A IF_A ADDR_A NS_B IF_B ADDR_B
  ip link add "$P$2" type veth peer name "$P$5"
  ip link set "$P$2" netns "$P$1"; ip link set "$P$5" netns "$P$4"
  ns "$1" ip addr add "$3" dev "$P$2"; ns "$4" ip addr add "$6" dev "$P$5"
  ns "$1" ip link set "$P$2" up; ns "$4" ip link set "$P$5" up
}
link hub h 198.51.100.1/24 wan wh 198.51.100.254/24
link c1 c 203.0.113.10/24 wan wc 203.0.113.254/24
link nat no 192.0.2.20/24 wan wn 192.0.2.254/24
link c2 d 192.168.77.2/24 nat ni 192.168.77.1/24
ns wan sysctl -qw net.ipv4.ip_forward=1; ns nat sysctl -qw net.ipv4.ip_forward=1
ns hub ip route add default via 198.51.100.254
ns c1 ip route add default via 203.0.113.254
ns nat ip route add default via 192.0.2.254
ns c2 ip route add default via 192.168.77.1
ns nat nft -f - <<NFT
table ip nat {
  chain post { type nat hook postrouting priority 100; oifname "${P}no" masquerade fully-random; }
}
table ip filter {
  chain forward { type filter hook forward priority 0; ip protocol { 4, 47 } drop; }
}
NFT

HUB_CLI="$ROOT/dist/server/cli.js"; CLIENT_CLI="$ROOT/dist/client/cli.js"
node "$HUB_CLI" --state "$DIR/hub" init --endpoint 198.51.100.1 --pool 10.1.12.0/24 >/dev/null
bg hub node "$HUB_CLI" --state "$DIR/hub" serve --listen 198.51.100.1 --path-keepalive 1 2>"$DIR/hub.log"
for _ in $(seq 100); do [ -S "$DIR/hub/hub.sock" ] && break; sleep 0.1; done
TOKEN=$(node "$HUB_CLI" --state "$DIR/hub" invite create)
bg c1 node "$CLIENT_CLI" join ws://198.51.100.1:8443 --token "$TOKEN" --name c1 --state "$DIR/c1" >"$DIR/c1.out" 2>"$DIR/c1.log"
ssh-keygen -q -t ed25519 -N '' -f "$DIR/c2-key"
node "$HUB_CLI" --state "$DIR/hub" peer add c2 --ssh-key "$(cat "$DIR/c2-key.pub")" >/dev/null
bg c2 node "$CLIENT_CLI" join ssh://c2@198.51.100.1:2222 --key "$DIR/c2-key" --state "$DIR/c2" >"$DIR/c2.out" 2>"$DIR/c2.log"
for target in "c1 10.1.12.1" "c2 10.1.12.5"; do
  set -- $target
  for _ in $(seq 60); do ns "$1" ping -c1 -W1 "$2" >/dev/null 2>&1 && break; sleep 0.2; done
  ns "$1" ping -c1 -W1 "$2" >/dev/null || { echo "$1: tunnel did not come up" >&2; cat "$DIR/$1.out" "$DIR/$1.log" >&2; tail -5 "$DIR/hub.log" >&2; exit 1; }
done
node "$HUB_CLI" --state "$DIR/hub" status | sed -n '3,5p'

gaps=()
for remap in $(seq "$REMAPS"); do
  ns c2 ping -D -n -i 0.02 -W 1 -w 5 10.1.12.5 >"$DIR/ping.txt" 2>/dev/null & PING=$!
  sleep 1.5
  ns nat conntrack -F >/dev/null 2>&1
  wait "$PING" || true
  gap=$(awk -F'[][]' '/bytes from/ { t = $2 * 1000; if (p && t - p > g) g = t - p; p = t } END { printf "%d", g }' "$DIR/ping.txt")
  replies=$(grep -c 'bytes from' "$DIR/ping.txt" || true)
  echo "re-mapping $remap: recovery gap ${gap} ms ($replies replies)"
  gaps+=("$gap")
done
sorted=$(printf '%s\n' "${gaps[@]}" | sort -n)
median=$(echo "$sorted" | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }')
max=$(echo "$sorted" | tail -1)
echo "NAT re-mapping recovery over $REMAPS re-mappings (ping every 20 ms): median ${median} ms, max ${max} ms (target < 1000 ms)"

bg hub iperf3 -s -1 -B 10.1.12.1 -p 5201 >"$DIR/iperf-c1.log"
bg hub iperf3 -s -1 -B 10.1.12.5 -p 5202 >"$DIR/iperf-c2.log"
sleep 0.5
rate() { awk '/receiver/ { print $(NF-2), $(NF-1) }' | tail -1; }
gre=$(ns c1 iperf3 -c 10.1.12.1 -p 5201 -t "$SECONDS_IPERF" | rate)
fou=$(ns c2 iperf3 -c 10.1.12.5 -p 5202 -t "$SECONDS_IPERF" | rate)
echo "throughput (iperf3 TCP, ${SECONDS_IPERF} s, one stream): GRE on the public path c1 -> hub ${gre}; FOU through the NAT c2 -> hub ${fou}"
