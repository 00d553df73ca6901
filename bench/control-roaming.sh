#!/usr/bin/env bash
# bench:control (a): the outage when a member's address changes. Builds hub ── wan ── c1 in
# namespaces, runs `tunnel-hub serve` in hub and `tunnel-client join`
# in c1, then moves c1 to a new address 10 times (add new, delete old, fix the default route)
# while pinging the hub's inner address every 20 ms; the outage of a move is the longest gap
# between two ping replies. Prints each outage, the median and the max. Needs root.
set -euo pipefail
MOVES=${MOVES:-10}
P="bc$$-"
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIR=$(mktemp -d /tmp/bench-control-roaming-XXXXXX)
HUB_PID=""; C1_PID=""
ns() { ip netns exec "$P$1" "${@:2}"; }
cleanup() {
  [ -n "$C1_PID" ] && kill "$C1_PID" 2>/dev/null || true
  [ -n "$HUB_PID" ] && kill "$HUB_PID" 2>/dev/null || true
  wait 2>/dev/null || true
  for n in hub wan c1; do ip netns del "$P$n" 2>/dev/null || true; done
  rm -rf "$DIR"
}
trap cleanup EXIT
[ "$(id -u)" = 0 ] || { echo "bench:control roaming needs root (network namespaces)" >&2; exit 1; }

for n in hub wan c1; do ip netns add "$P$n"; ns "$n" ip link set lo up; done
ip link add "${P}h" type veth peer name "${P}wh"; ip link set "${P}h" netns "${P}hub"; ip link set "${P}wh" netns "${P}wan"
ip link add "${P}c" type veth peer name "${P}wc"; ip link set "${P}c" netns "${P}c1"; ip link set "${P}wc" netns "${P}wan"
ns hub ip addr add 198.51.100.1/24 dev "${P}h"; ns wan ip addr add 198.51.100.254/24 dev "${P}wh"
ns c1 ip addr add 203.0.113.10/24 dev "${P}c"; ns wan ip addr add 203.0.113.254/24 dev "${P}wc"
for l in "hub ${P}h" "wan ${P}wh" "wan ${P}wc" "c1 ${P}c"; do set -- $l; ns "$1" ip link set "$2" up; done
ns wan sysctl -qw net.ipv4.ip_forward=1
ns c1 sysctl -qw "net.ipv4.conf.${P}c.promote_secondaries=1"
ns hub ip route add default via 198.51.100.254
ns c1 ip route add default via 203.0.113.254

HUB_CLI="$ROOT/dist/server/cli.js"; CLIENT_CLI="$ROOT/dist/client/cli.js"
node "$HUB_CLI" --state "$DIR/hub" init --endpoint 198.51.100.1 --pool 10.1.12.0/24 >/dev/null
TUNNEL_LOG_LEVEL=warn ns hub node "$HUB_CLI" --state "$DIR/hub" serve --listen 198.51.100.1 2>"$DIR/hub.log" & HUB_PID=$!
for _ in $(seq 100); do [ -S "$DIR/hub/hub.sock" ] && break; sleep 0.1; done
TOKEN=$(node "$HUB_CLI" --state "$DIR/hub" invite create)
TUNNEL_LOG_LEVEL=warn ns c1 node "$CLIENT_CLI" join ws://198.51.100.1:8443 --token "$TOKEN" --name c1 --state "$DIR/c1" >"$DIR/c1.out" 2>"$DIR/c1.log" & C1_PID=$!
for _ in $(seq 200); do ns c1 ping -c1 -W1 10.1.12.1 >/dev/null 2>&1 && break; sleep 0.1; done
ns c1 ping -c1 -W1 10.1.12.1 >/dev/null || { echo "tunnel did not come up" >&2; cat "$DIR/c1.log" >&2; exit 1; }

current=10
gaps=()
for move in $(seq "$MOVES"); do
  next=$((current + 1))
  ns c1 ping -D -n -i 0.02 -W 1 -w 4 10.1.12.1 >"$DIR/ping.txt" 2>/dev/null & PING=$!
  sleep 1
  ns c1 ip addr add "203.0.113.$next/24" dev "${P}c"
  ns c1 ip addr del "203.0.113.$current/24" dev "${P}c"
  ns c1 ip route replace default via 203.0.113.254
  wait "$PING" || true
  gap=$(awk -F'[][]' '/bytes from/ { t = $2 * 1000; if (p && t - p > g) g = t - p; p = t } END { printf "%d", g }' "$DIR/ping.txt")
  replies=$(grep -c 'bytes from' "$DIR/ping.txt" || true)
  echo "move $move: 203.0.113.$current -> 203.0.113.$next: outage ${gap} ms ($replies replies)"
  gaps+=("$gap")
  current=$next
done
sorted=$(printf '%s\n' "${gaps[@]}" | sort -n)
median=$(echo "$sorted" | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }')
max=$(echo "$sorted" | tail -1)
echo "address-change outage over $MOVES moves (ping every 20 ms): median ${median} ms, max ${max} ms (target < 1000 ms)"
