#!/usr/bin/env bash
# Datapath benchmark: TCP throughput (iperf3) and ping RTT through each encapsulation of the
# project's userspace datapath (`tunnel-client up`), in the same run as fastd (method null, the
# Freifunk userspace tunnel) on the same kind of link: two network namespaces joined by veth.
# Prints each figure, its ratio to fastd, and CPU seconds per gigabit (user+system time of both
# tunnel processes, from /proc/PID/stat, over the iperf3 run).
# RTT is $PINGS (default 20) pings at 20/s (mean ms, as ping prints it, and median), taken twice: "cold" right after
# the tunnel comes up (a JIT like V8 has not optimized the path yet) and "warm" after the iperf3
# run; with the warm pings, the on-CPU time of both tunnel processes per round trip (all threads,
# /proc/PID/task/*/schedstat), which is what a low-rate RTT mostly pays for on a shared machine.
# Needs root, iproute2, iperf3, fastd, wireguard-go and wg (wireguard-tools) and a built project (npm run build). Adapted from the lab's
# bench-peers.sh. usage: bench/datapath.sh [seconds per iperf3 run] [encapsulations…]
# Encapsulations: gre gre-key ipip fou gue vxlan (the default list); NAME-js (e.g. gre-js) runs the
# same with TUNNEL_FAST_PATH=off, every packet through the JS engine, NAME-nooff (e.g. gre-nooff)
# with TUNNEL_OFFLOAD=off (plain TUN, no TSO or merged writes), to compare in the same run; a
# further -q<N> (e.g. gre-q2, fou-nooff-q2) gives the row's TUNs N queues (TUNNEL_QUEUES=N; the
# variable itself, when set, applies to every row without a suffix).
# STREAMS=<n> (default 1) runs n parallel TCP streams (iperf3 -P): one stream stays on one queue.
# Encrypted rows: gre-esp (GRE in ESP, AES-GCM-128), gre-esp-chacha (ChaCha20-Poly1305), espudp and
# espudp-chacha (the same as ESP in UDP 4500): `up --esp` with fresh random SAs each run;
# wireguard-go (the reference encrypted userspace tunnel, ChaCha20-Poly1305, on its own TUN) is the
# peer they are compared with ("x wg": the ratio to the wireguard-go row measured last before).
# vxlan is the Linux kernel's own VXLAN on the same veth: the ceiling a kernel tunnel reaches here
# (its CPU time is the kernel's, spread over every process, so no CPU figures are printed for it).
# fastd-null in the list measures fastd again there; each row is compared with the fastd row
# above it, so "gre fastd-null gre fastd-null gre" interleaves the two against drift.
# TUNNEL_CPUS=<list> (taskset syntax, e.g. 1 or 0-1) pins fastd's and every tunnel process's threads
# the same way, for comparing placements fairly; unset, the scheduler places them.
set -u
T=${1:-5}; shift || true
ENCAPS=${*:-gre gre-key ipip fou gue wireguard-go gre-esp gre-esp-chacha espudp espudp-chacha vxlan}
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
  for pid in "$@"; do [ -n "$pid" ] || continue; f=($(sed 's/^.*) //' /proc/"$pid"/stat)); sum=$((sum + f[11] + f[12])); done
  echo $sum
}

cpu_ns() { # pids… → on-CPU nanoseconds of every thread, summed
  local sum=0 pid t run rest
  for pid in "$@"; do [ -n "$pid" ] || continue; for t in /proc/"$pid"/task/*/schedstat; do read -r run rest <"$t" && sum=$((sum + run)); done; done
  echo $sum
}

PINGS=${PINGS:-20}
# pings INNER_IP → "mean median" RTT in ms of $PINGS pings at 20/s
pings() {
  $A ping -c $PINGS -i 0.05 -W 1 "$1" 2>/dev/null | awk -F'time=' '/time=/{split($2, a, " "); print a[1]}' | sort -n |
    awk '{v[NR] = $1; s += $1} END {if (NR) printf "%.3f %.3f", s / NR, v[int((NR + 1) / 2)]; else printf "NaN NaN"}'
}

# measure NAME INNER_IP PID_A PID_B [kernel] → one line of figures, kept in $W/results
measure() {
  local cold warm json c0 c1 n0 n1
  [ -n "${TUNNEL_CPUS:-}" ] && [ "${5:-}" != kernel ] && for pid in "$3" "$4"; do taskset -a -p -c "$TUNNEL_CPUS" "$pid" >/dev/null; done
  cold=$(pings "$2")
  $B iperf3 -s -1 >/dev/null 2>&1 & local sp=$!; sleep 0.3
  c0=$(cpu_ticks "$3" "$4")
  json=$($A iperf3 -c "$2" -t "$T" -P "${STREAMS:-1}" -J 2>/dev/null)
  c1=$(cpu_ticks "$3" "$4")
  kill $sp 2>/dev/null; wait $sp 2>/dev/null
  n0=$(cpu_ns "$3" "$4"); warm=$(pings "$2"); n1=$(cpu_ns "$3" "$4")
  node -e '
    const [name, cold, warm, ticks, hz, ns, pings, text, kernel] = process.argv.slice(1);
    let gbps = NaN, gbits = NaN, retr = NaN;
    try { const r = JSON.parse(text).end; gbps = r.sum_received.bits_per_second / 1e9; gbits = r.sum_received.bytes * 8 / 1e9; retr = r.sum_sent.retransmits; } catch {}
    const cpu = Number(ticks) / Number(hz);
    const [coldMean, coldMedian] = cold.split(" "), [warmMean, warmMedian] = warm.split(" ");
    const usPerPing = Number(ns) / 1000 / Number(pings);
    const [us, perGbit] = kernel === "kernel" ? ["n/a", "n/a"] : [usPerPing.toFixed(0), (cpu / gbits).toFixed(2)];
    console.log([name, gbps.toFixed(3), coldMean, coldMedian, warmMean, warmMedian, us, perGbit, retr].join(" "));
  ' "$1" "$cold" "$warm" "$((c1 - c0))" "$TICK" "$((n1 - n0))" "$PINGS" "$json" "${5:-}" >>"$W/results"
}

# fastd, method null; run first, and again wherever the list names fastd-null
for s in a b; do fastd --generate-key 2>/dev/null >"$W/k$s"; done
key() { awk -v k="$1" '$1==k":"{print $2}' "$W/k$2"; }
for s in a b; do o=$([ $s = a ] && echo b || echo a); me=$([ $s = a ] && echo 1 || echo 2); peer=$([ $s = a ] && echo 2 || echo 1)
cat >"$W/f$s.conf" <<C
interface "fd$s"; mode tun; method "null"; bind 192.0.2.$me:10000; secret "$(key Secret $s)"; mtu 1426;
on up "ip addr add 10.9.0.$me peer 10.9.0.$peer dev \$INTERFACE; ip link set \$INTERFACE up";
peer "$o" { key "$(key Public $o)"; remote 192.0.2.$peer:10000; }
C
done
run_fastd() {
  for s in a b; do ip netns exec ${P}$s fastd -c "$W/f$s.conf" --daemon --pid-file "$W/f$s.pid" --log-level error; done
  for i in $(seq 50); do $A ping -c 1 -W 1 10.9.0.2 >/dev/null 2>&1 && break; sleep 0.2; done
  measure fastd-null 10.9.0.2 "$(cat "$W/fa.pid")" "$(cat "$W/fb.pid")"
  kill "$(cat "$W/fa.pid")" "$(cat "$W/fb.pid")"; rm -f "$W"/f?.pid
  sleep 0.5
}
run_fastd

# wireguard-go (ChaCha20-Poly1305 with its own keys), measured like the others
run_wireguard() {
  command -v wireguard-go >/dev/null && command -v wg >/dev/null || { echo "wireguard-go or wg missing: npm run setup:test" >&2; return; }
  for s in a b; do wg genkey >"$W/w$s"; wg pubkey <"$W/w$s" >"$W/w$s.pub"; done
  for s in a b; do o=$([ $s = a ] && echo b || echo a); me=$([ $s = a ] && echo 1 || echo 2); peer=$([ $s = a ] && echo 2 || echo 1)
    WG_PROCESS_FOREGROUND=1 ip netns exec ${P}$s wireguard-go -f wg$s >"$W/wg$s.log" 2>&1 & echo $! >"$W/wg$s.pid"
    for i in $(seq 50); do ip -n ${P}$s link show wg$s >/dev/null 2>&1 && break; sleep 0.1; done
    ip netns exec ${P}$s wg set wg$s private-key "$W/w$s" listen-port 51820 peer "$(cat "$W/w$o.pub")" endpoint 192.0.2.$peer:51820 allowed-ips 10.7.0.$peer/32
    ip -n ${P}$s addr add 10.7.0.$me/24 dev wg$s; ip -n ${P}$s link set wg$s up
  done
  for i in $(seq 50); do $A ping -c 1 -W 1 10.7.0.2 >/dev/null 2>&1 && break; sleep 0.2; done
  measure wireguard-go 10.7.0.2 "$(cat "$W/wga.pid")" "$(cat "$W/wgb.pid")"
  kill "$(cat "$W/wga.pid")" "$(cat "$W/wgb.pid")" 2>/dev/null; wait "$(cat "$W/wga.pid")" "$(cat "$W/wgb.pid")" 2>/dev/null; rm -f "$W"/wg?.pid
  sleep 0.5
}

# esp_file ROW → writes $W/esp-a and $W/esp-b, mirror images, with fresh random SAs for the row
esp_file() {
  local aead=aes-gcm bytes=20 udp="" ka kb
  case "$1" in *-chacha*) aead=chacha20-poly1305; bytes=36;; esac
  case "$1" in espudp*) udp="udp = 4500";; esac
  ka=$(openssl rand -hex $bytes); kb=$(openssl rand -hex $bytes)
  printf 'aead = %s\nspi-out = 0x1001\nkey-out = 0x%s\nspi-in = 0x2001\nkey-in = 0x%s\n%s\n' "$aead" "$ka" "$kb" "$udp" >"$W/esp-a"
  printf 'aead = %s\nspi-out = 0x2001\nkey-out = 0x%s\nspi-in = 0x1001\nkey-in = 0x%s\n%s\n' "$aead" "$kb" "$ka" "$udp" >"$W/esp-b"
  chmod 600 "$W/esp-a" "$W/esp-b"
}

# the kernel's VXLAN on the same veth (MTU 1450), measured like the others; CPU time is the kernel's
run_vxlan() {
  for s in a b; do me=$([ $s = a ] && echo 1 || echo 2); peer=$([ $s = a ] && echo 2 || echo 1)
    ip -n ${P}$s link add vx0 type vxlan id 42 local 192.0.2.$me remote 192.0.2.$peer dstport 4789
    ip -n ${P}$s addr add 10.8.0.$me/30 dev vx0; ip -n ${P}$s link set vx0 up
  done
  for i in $(seq 50); do $A ping -c 1 -W 1 10.8.0.2 >/dev/null 2>&1 && break; sleep 0.2; done
  measure vxlan 10.8.0.2 "" "" kernel
  for s in a b; do ip -n ${P}$s link del vx0; done
}

# the project's datapath, one encapsulation at a time
n=10
for e in $ENCAPS; do
  [ "$e" = fastd-null ] && { run_fastd; continue; }
  [ "$e" = wireguard-go ] && { run_wireguard; continue; }
  [ "$e" = vxlan ] && { run_vxlan; continue; }
  n=$((n + 1)); row=${e%-q[1-8]}; queues=${TUNNEL_QUEUES:-}; [ "$row" != "$e" ] && queues=${e##*-q}
  base=${row%-js}; base=${base%-nooff}; encap=${base%-key}; extra=""; [ "$base" = gre-key ] && extra="--key 4660"
  case "$base" in gre-esp*|espudp*) encap=gre; esp_file "$base";; esac
  fast=on; [ "${row%-js}" != "$row" ] && fast=off
  offload=on; [ "${row%-nooff}" != "$row" ] && offload=off
  for s in a b; do me=$([ $s = a ] && echo 1 || echo 2); peer=$([ $s = a ] && echo 2 || echo 1)
    espflag=""; case "$base" in gre-esp*|espudp*) espflag="--esp $W/esp-$s";; esac
    TUNNEL_FAST_PATH=$fast TUNNEL_OFFLOAD=$offload TUNNEL_QUEUES=$queues ip netns exec ${P}$s node "$CLI" up --local 192.0.2.$me --remote 192.0.2.$peer --encap "$encap" $extra $espflag \
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
  let base, wg;
  const ratio = (x, y) => (Number.isFinite(+x) && +y > 0 ? (+x / +y).toFixed(2) : "n/a");
  const head = ["tunnel", "Gbit/s", "x fastd", "x wg", "rtt cold", "median", "x fastd", "rtt warm", "median", "x fastd", "x wg", "cpu us/ping", "cpu s/Gbit", "retrans"];
  const width = [14, 7, 8, 6, 9, 7, 8, 9, 7, 8, 6, 12, 11, 8];
  const line = (cells) => cells.map((c, i) => (i === 0 ? String(c).padEnd(width[i]) : String(c).padStart(width[i]))).join(" ");
  console.log("%s", line(head));
  for (const [name, gbps, coldMean, coldMedian, warmMean, warmMedian, us, cpu, retr] of rows) {
    if (name === "fastd-null") base = [name, gbps, coldMean, coldMedian, warmMean, warmMedian];
    if (name === "wireguard-go") wg = [name, gbps, coldMean, coldMedian, warmMean, warmMedian];
    console.log("%s", line([name, gbps, ratio(gbps, base?.[1]), ratio(gbps, wg?.[1]), coldMean, coldMedian, ratio(coldMedian, base?.[3]),
      warmMean, warmMedian, ratio(warmMedian, base?.[5]), ratio(warmMedian, wg?.[5]), us, cpu, retr]));
  }
  console.log("rtt: mean and median ms of %d pings at 20/s; x fastd and x wg compare medians with the fastd-null and wireguard-go rows last above. cpu us/ping: both tunnel processes, warm pings.", Number(process.argv[2]));
' "$W/results" "$PINGS"
