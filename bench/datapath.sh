#!/usr/bin/env bash
# Datapath benchmark: TCP throughput (iperf3) and ping RTT through each encapsulation of the
# project's userspace datapath (`tunnel-client up`), in the same run as fastd (method null, the
# Freifunk userspace tunnel) on the same kind of link: two network namespaces joined by veth.
# Prints each figure, its ratio to fastd, and CPU seconds per gigabit (user+system time of both
# tunnel processes, from /proc/PID/stat, over the iperf3 run).
# Needs root, iproute2, iperf3, fastd and a built project (npm run build). Adapted from the lab's
# bench-peers.sh. usage: bench/datapath.sh [seconds per iperf3 run] [encapsulations…]
set -u
T=${1:-5}; shift || true
ENCAPS=${*:-gre gre-key ipip fou gue}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CLI="$ROOT/dist/client/cli.js"
[ -f "$CLI" ] || { echo "build first: npm run build" >&2; exit 1; }
P="bd$$"; A="ip netns exec ${P}a"; B="ip netns exec ${P}b"
W=$(mktemp -d); TICK=$(getconf CLK_TCK)
cleanup() {
  for f in "$W"/*.pid; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null; done
  ip netns del ${P}a 2>/dev/null; ip netns del ${P}b 2>/dev/null; rm -rf "$W"
}
trap cleanup EXIT
ip netns add ${P}a; ip netns add ${P}b
ip link add ${P}va type veth peer name ${P}vb
ip link set ${P}va netns ${P}a; ip link set ${P}vb netns ${P}b
ip -n ${P}a addr add 192.0.2.1/24 dev ${P}va; ip -n ${P}b addr add 192.0.2.2/24 dev ${P}vb
for s in a b; do ip -n ${P}$s link set lo up; ip -n ${P}$s link set ${P}v$s up; done

cpu_ticks() { # pids… → utime+stime summed, in clock ticks
  local sum=0 pid f
  for pid in "$@"; do f=($(sed 's/^.*) //' /proc/"$pid"/stat)); sum=$((sum + f[11] + f[12])); done
  echo $sum
}

# measure NAME INNER_IP PID_A PID_B → one line of figures, kept in $W/results
measure() {
  local rtt json c0 c1
  rtt=$($A ping -q -c 20 -i 0.05 -W 1 "$2" 2>/dev/null | awk -F/ '/rtt/{print $5}')
  $B iperf3 -s -1 >/dev/null 2>&1 & local sp=$!; sleep 0.3
  c0=$(cpu_ticks "$3" "$4")
  json=$($A iperf3 -c "$2" -t "$T" -J 2>/dev/null)
  c1=$(cpu_ticks "$3" "$4")
  kill $sp 2>/dev/null; wait $sp 2>/dev/null
  node -e '
    const [name, rtt, ticks, hz, text] = process.argv.slice(1);
    let gbps = NaN, gbits = NaN, retr = NaN;
    try { const r = JSON.parse(text).end; gbps = r.sum_received.bits_per_second / 1e9; gbits = r.sum_received.bytes * 8 / 1e9; retr = r.sum_sent.retransmits; } catch {}
    const cpu = Number(ticks) / Number(hz);
    console.log([name, gbps.toFixed(3), rtt || "NaN", (cpu / gbits).toFixed(2), retr].join(" "));
  ' "$1" "$rtt" "$((c1 - c0))" "$TICK" "$json" >>"$W/results"
}

# fastd, method null
for s in a b; do fastd --generate-key 2>/dev/null >"$W/k$s"; done
key() { awk -v k="$1" '$1==k":"{print $2}' "$W/k$2"; }
for s in a b; do o=$([ $s = a ] && echo b || echo a); me=$([ $s = a ] && echo 1 || echo 2); peer=$([ $s = a ] && echo 2 || echo 1)
cat >"$W/f$s.conf" <<C
interface "fd$s"; mode tun; method "null"; bind 192.0.2.$me:10000; secret "$(key Secret $s)"; mtu 1426;
on up "ip addr add 10.9.0.$me peer 10.9.0.$peer dev \$INTERFACE; ip link set \$INTERFACE up";
peer "$o" { key "$(key Public $o)"; remote 192.0.2.$peer:10000; }
C
ip netns exec ${P}$s fastd -c "$W/f$s.conf" --daemon --pid-file "$W/f$s.pid" --log-level error; done
for i in $(seq 50); do $A ping -c 1 -W 1 10.9.0.2 >/dev/null 2>&1 && break; sleep 0.2; done
measure fastd-null 10.9.0.2 "$(cat "$W/fa.pid")" "$(cat "$W/fb.pid")"
kill "$(cat "$W/fa.pid")" "$(cat "$W/fb.pid")"; rm -f "$W"/f?.pid

# the project's datapath, one encapsulation at a time
n=10
for e in $ENCAPS; do
  n=$((n + 1)); encap=${e%-key}; extra=""; [ "$e" = gre-key ] && extra="--key 4660"
  for s in a b; do me=$([ $s = a ] && echo 1 || echo 2); peer=$([ $s = a ] && echo 2 || echo 1)
    ip netns exec ${P}$s node "$CLI" up --local 192.0.2.$me --remote 192.0.2.$peer --encap "$encap" $extra \
      --address 10.$n.0.$me/30 --peer-address 10.$n.0.$peer --name bench0 --state "$W/state$s" >"$W/$e$s.log" 2>&1 &
    echo $! >"$W/u$s.pid"
  done
  for i in $(seq 100); do grep -q ' up: ' "$W/${e}a.log" && grep -q ' up: ' "$W/${e}b.log" && break; sleep 0.1; done
  for i in $(seq 50); do $A ping -c 1 -W 1 10.$n.0.2 >/dev/null 2>&1 && break; sleep 0.2; done
  measure "$e" 10.$n.0.2 "$(cat "$W/ua.pid")" "$(cat "$W/ub.pid")"
  kill "$(cat "$W/ua.pid")" "$(cat "$W/ub.pid")"; wait "$(cat "$W/ua.pid")" "$(cat "$W/ub.pid")" 2>/dev/null; rm -f "$W"/u?.pid
done

node -e '
  const rows = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map((l) => l.split(" "));
  const base = rows.find((r) => r[0] === "fastd-null");
  const ratio = (x, y) => (Number.isFinite(+x) && +y > 0 ? (+x / +y).toFixed(2) : "n/a");
  console.log("%s", ["tunnel".padEnd(12), "Gbit/s".padStart(7), "x fastd".padStart(8), "rtt ms".padStart(8), "rtt/fastd".padStart(10), "cpu s/Gbit".padStart(11), "retrans".padStart(8)].join(" "));
  for (const [name, gbps, rtt, cpu, retr] of rows) {
    console.log("%s", [name.padEnd(12), gbps.padStart(7), ratio(gbps, base?.[1]).padStart(8), rtt.padStart(8), ratio(rtt, base?.[2]).padStart(10), cpu.padStart(11), String(retr).padStart(8)].join(" "));
  }
' "$W/results"
