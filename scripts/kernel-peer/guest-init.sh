#!/bin/sh
# /init (PID 1) of the kernel peer guest: Debian's kernel under qemu, busybox, iproute2's `ip`.
# It loads the tunnel modules, brings lo and eth0 up with no address, starts responders (ICMP from
# the kernel, busybox httpd on :80 serving /srv with a 1 MiB /srv/1m.bin, a TCP echo on :7), prints
# TC-KERNEL-PEER-READY on the console (ttyS0), then runs the host's shell scripts from ttyS1:
#   request  "<id> <base64 script>"
#   reply    "__TC_BEGIN__ <id>", the script's stdout and stderr, "__TC_END__ <id> <exit code>"
# All configuration comes through that channel, so tests apply rendered configs verbatim.
export PATH=/sbin:/bin
# Debian's busybox-static runs its own applets before $PATH; `ip` must be iproute2's (fou, encap).
ip() { /sbin/ip "$@"; }
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /tmp /run /srv /var/run
echo "tc-kernel-peer: kernel $(uname -r) at /init, uptime $(cut -d' ' -f1 /proc/uptime)s"
while read -r m; do
  insmod "/lib/modules/$m" || echo "tc-kernel-peer: insmod $m failed"
done </lib/modules/load.list
# virtio_net registers eth0 asynchronously.
i=0
while [ ! -e /sys/class/net/eth0 ] && [ $i -lt 100 ]; do usleep 50000; i=$((i + 1)); done
for w in $(cat /proc/cmdline); do
  case "$w" in tc.name=*) hostname "${w#tc.name=}" ;; esac
done
ip link set lo up
ip link set eth0 up
echo "kernel peer $(hostname) ($(uname -r))" >/srv/index.html
dd if=/dev/urandom of=/srv/1m.bin bs=1024 count=1024 2>/dev/null
httpd -p 80 -h /srv
nc -ll -p 7 -e cat </dev/null >/dev/null 2>&1 &
exec 3<>/dev/ttyS1
stty raw -echo <&3
if [ -e /sys/class/net/eth0 ]; then status=READY; else status=FAILED; fi
echo "TC-KERNEL-PEER-$status uptime=$(cut -d' ' -f1 /proc/uptime)"
while :; do
  if ! read -r id b64 <&3; then sleep 1; continue; fi
  [ -n "$id" ] || continue
  echo "$b64" | base64 -d >/tmp/cmd.sh
  (. /tmp/cmd.sh) </dev/null >/tmp/cmd.out 2>&1
  rc=$?
  {
    echo "__TC_BEGIN__ $id"
    cat /tmp/cmd.out
    if [ -s /tmp/cmd.out ] && [ -n "$(tail -c 1 /tmp/cmd.out)" ]; then echo; fi
    echo "__TC_END__ $id $rc"
  } >&3
done
