#!/bin/sh
# Prepares the kernel peer used by the kernel test tier: Debian's own kernel (the package
# linux-image-amd64 depends on), unpacked with `apt-get download` + `dpkg -x`, its modules indexed
# with depmod, the uncompressed vmlinux extracted for qemu's PVH entry (half the boot time under
# TCG), and a busybox initramfs holding the host's iproute2 `ip`, the tunnel modules (loaded at
# boot), the ESP modules (loaded by `load-modules esp`), esp-in-udp-socket (built here) and
# guest-init.sh as /init. Everything lives under $TC_KERNEL_PEER_CACHE
# (/var/cache/tunnel-coordinator/kernel-peer); `current` points at the prepared kernel.
# Idempotent: downloads only when the kernel is missing, rebuilds the initramfs when this script,
# guest-init.sh or esp-in-udp-socket.c is newer than it. `--cached` never downloads: it refreshes
# the initramfs of the kernel already prepared, or fails. Needs root (apt-get, mknod). Prints the
# kernel's folder.
set -eu
cached=0
[ "${1:-}" = --cached ] && cached=1
here=$(cd "$(dirname "$0")" && pwd)
cache=${TC_KERNEL_PEER_CACHE:-/var/cache/tunnel-coordinator/kernel-peer}
# Loaded in the guest at boot in dependency order (modprobe --show-depends adds gre, ip_tunnel,
# tunnel4, udp_tunnel, ip6_udp_tunnel, virtio_ring, failover…): GRE, gretap, IPIP, FOU/GUE over
# IPv4 and IPv6, ip6gre, ip6tnl, sit and the bridge for gretap.
modules="virtio_pci virtio_net ipv6 ip_gre ipip fou fou6 ip6_gre ip6_tunnel sit bridge"
# Loaded on demand by `load-modules esp` in the guest, since their crypto self-tests and the
# entropy source's start-up would slow every boot: ESP (esp4, esp6, xfrm_user for `ip xfrm`)
# with the AEADs rfc4106(gcm(aes)) (gcm, ctr, ghash; AES is built in) and
# rfc7539esp(chacha20,poly1305), their IV generators seqiv and echainiv, and the
# jitterentropy-seeded drbg that geniv draws its salt from (plus xfrm_algo, gf128mul, libchacha…);
# this kernel's jitterentropy hashes with SHA3-256, which it asks the crypto API for by name, so
# sha3_generic comes first (modprobe sees no dependency).
esp_modules="esp4 esp6 xfrm_user ctr gcm ghash_generic chacha_generic poly1305_generic chacha20poly1305
  seqiv echainiv sha3_generic jitterentropy_rng drbg"

die() { echo "kernel-peer prepare: $*" >&2; exit 1; }
note() { echo "kernel-peer prepare: $*" >&2; }

[ "$(id -u)" = 0 ] || die "needs root"
for tool in qemu-system-x86_64 cpio depmod modprobe dpkg apt-get cc; do
  command -v "$tool" >/dev/null || die "$tool is missing (npm run setup:test installs it)"
done
[ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1 || die "busybox-static is missing (npm run setup:test installs it)"

mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9

if [ $cached = 1 ]; then
  [ -s "$cache/current/kver" ] || die "no kernel prepared in $cache (npm run setup:test prepares one)"
  pkg=$(basename "$(readlink "$cache/current")")
fi
pkg=${pkg:-${TC_KERNEL_PEER_PACKAGE:-}}
[ -n "$pkg" ] || pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
if [ -z "$pkg" ]; then
  apt-get update -qq >&2
  pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
fi
[ -n "$pkg" ] || die "cannot resolve the kernel package behind linux-image-amd64"
kd=$cache/$pkg

if [ ! -s "$kd/kver" ]; then
  note "downloading $pkg"
  rm -rf "$kd"
  mkdir -p "$kd/deb"
  (cd "$kd/deb" && apt-get -q -o APT::Sandbox::User=root download "$pkg" >&2)
  dpkg -x "$kd"/deb/*.deb "$kd/root"
  rm -rf "$kd/deb"
  kver=$(ls "$kd/root/lib/modules")
  depmod -b "$kd/root" "$kver"   # the .deb ships no modules.dep (its postinst makes one)
  echo "$kver" >"$kd/kver"
fi
kver=$(cat "$kd/kver")
vmlinuz=$kd/root/boot/vmlinuz-$kver

# bzImage -> ELF vmlinux: find the compressed payload's magic and decompress from there.
if [ ! -e "$kd/vmlinux" ] && grep -q '^CONFIG_PVH=y' "$kd/root/boot/config-$kver"; then
  for fmt in 'xz:\xfd7zXZ\x00' 'zstd:\x28\xb5\x2f\xfd' 'gzip:\x1f\x8b\x08'; do
    off=$(LC_ALL=C grep -abo -P "${fmt#*:}" "$vmlinuz" 2>/dev/null | head -1 | cut -d: -f1)
    [ -n "$off" ] || continue
    tail -c +$((off + 1)) "$vmlinuz" | ${fmt%%:*} -dc >"$kd/vmlinux.tmp" 2>/dev/null || true # trailing bytes
    if [ "$(head -c 4 "$kd/vmlinux.tmp" | od -An -tx1 | tr -d ' ')" = 7f454c46 ]; then
      mv "$kd/vmlinux.tmp" "$kd/vmlinux"
      break
    fi
  done
  rm -f "$kd/vmlinux.tmp"
fi
if [ -e "$kd/vmlinux" ]; then ln -sfn vmlinux "$kd/kernel"; else ln -sfn "root/boot/vmlinuz-$kver" "$kd/kernel"; fi

if [ ! -e "$kd/initramfs.cpio.gz" ] || [ "$here/prepare.sh" -nt "$kd/initramfs.cpio.gz" ] ||
  [ "$here/guest-init.sh" -nt "$kd/initramfs.cpio.gz" ] || [ "$here/esp-in-udp-socket.c" -nt "$kd/initramfs.cpio.gz" ]; then
  st=$(mktemp -d /tmp/tc-kernel-peer-initramfs.XXXXXX)
  trap 'rm -rf "$st"' EXIT
  mkdir -p "$st/bin" "$st/sbin" "$st/dev" "$st/proc" "$st/sys" "$st/tmp" "$st/run" "$st/srv" "$st/lib/modules"
  cp /bin/busybox "$st/bin/busybox"
  # One link per applet except `ip`: busybox's has no fou, encap or ip6gre options.
  for applet in $(/bin/busybox --list); do
    case $applet in busybox | ip) ;; *) ln -s busybox "$st/bin/$applet" ;; esac
  done
  ipbin=$(readlink -f "$(command -v ip)")
  cp "$ipbin" "$st/sbin/ip"
  for lib in $(ldd "$ipbin" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}'); do
    mkdir -p "$st$(dirname "$lib")"
    cp -L "$lib" "$st$lib"
  done
  # Writes list $1 (/lib/modules/$1.list): the modules named after it with their dependencies,
  # in load order, skipping those an earlier list holds.
  write_list() {
    list=$1
    shift
    mods=$(for m in "$@"; do
      modprobe -d "$kd/root" -S "$kver" --show-depends "$m" || echo "MISSING $m"
    done | awk '$1 == "insmod" && !seen[$2]++ {print $2} $1 == "MISSING" {print}')
    case $mods in *MISSING*) die "modules missing from $kver: $mods" ;; esac
    : >"$st/lib/modules/$list.list"
    for m in $mods; do
      base=$(basename "$m")
      base=${base%.xz}
      base=${base%.zst}
      [ -e "$st/lib/modules/$base" ] && continue
      case $m in
        *.ko.xz) xz -dc "$m" >"$st/lib/modules/$base" ;;
        *.ko.zst) zstd -qdc "$m" >"$st/lib/modules/$base" ;;
        *) cp "$m" "$st/lib/modules/$base" ;;
      esac
      echo "$base" >>"$st/lib/modules/$list.list"
    done
  }
  write_list load $modules
  write_list esp $esp_modules
  cat >"$st/sbin/load-modules" <<'SCRIPT'
#!/bin/sh
# load-modules LIST: loads the modules of /lib/modules/LIST.list that are not loaded yet, in order.
[ -r "/lib/modules/$1.list" ] || { echo "load-modules: no list $1" >&2; exit 1; }
while read -r m; do
  name=$(echo "${m%.ko}" | tr - _)
  grep -q "^$name " /proc/modules || insmod "/lib/modules/$m" || exit 1
done <"/lib/modules/$1.list"
SCRIPT
  chmod 755 "$st/sbin/load-modules"
  # ESP in UDP needs a socket marked UDP_ENCAP_ESPINUDP in the guest (an IKE daemon's job). It
  # links against the C library copied for `ip` above: 15 KB instead of 750 KB static.
  cc -Os -s -o "$st/sbin/esp-in-udp-socket" "$here/esp-in-udp-socket.c"
  for lib in $(ldd "$st/sbin/esp-in-udp-socket" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}'); do
    [ -e "$st$lib" ] || die "esp-in-udp-socket needs $lib, which ip does not"
  done
  cp "$here/guest-init.sh" "$st/init"
  chmod 755 "$st/init"
  mknod -m 600 "$st/dev/console" c 5 1
  mknod -m 666 "$st/dev/null" c 1 3
  (cd "$st" && find . | cpio -o -H newc --quiet | gzip -6) >"$kd/initramfs.cpio.gz.tmp"
  mv "$kd/initramfs.cpio.gz.tmp" "$kd/initramfs.cpio.gz"
  note "initramfs $(du -h "$kd/initramfs.cpio.gz" | cut -f1), modules at boot: $(tr '\n' ' ' <"$st/lib/modules/load.list")"
  note "modules on demand (load-modules esp): $(tr '\n' ' ' <"$st/lib/modules/esp.list")"
fi
ln -sfn "$pkg" "$cache/current"
echo "$kd"
