/*
 * esp-in-udp-socket PORT: opens a UDP socket on PORT marked UDP_ENCAP_ESPINUDP and keeps it open
 * in the background, so the guest kernel takes the ESP arriving on that port (RFC 3948) to its
 * `ip xfrm state … encap espinudp` SAs. An IKE daemon does this on a router; the kernel peer has
 * none, and busybox cannot set the option. Exits 0 once the socket is ready, 1 if not.
 * Built by prepare.sh into the guest's initramfs, against the C library it copies for `ip`.
 */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef UDP_ENCAP
#define UDP_ENCAP 100
#endif
#ifndef UDP_ENCAP_ESPINUDP
#define UDP_ENCAP_ESPINUDP 2
#endif

int main(int argc, char** argv) {
  int port = argc > 1 ? atoi(argv[1]) : 4500;
  int type = UDP_ENCAP_ESPINUDP;
  struct sockaddr_in address = {0};
  address.sin_family = AF_INET;
  address.sin_port = htons((unsigned short)port);
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0 || bind(fd, (struct sockaddr*)&address, sizeof(address)) != 0 ||
      setsockopt(fd, IPPROTO_UDP, UDP_ENCAP, &type, sizeof(type)) != 0) {
    perror("esp-in-udp-socket");
    return 1;
  }
  pid_t child = fork();
  if (child < 0) {
    perror("esp-in-udp-socket: fork");
    return 1;
  }
  if (child > 0) return 0;
  setsid();
  fclose(stdin);
  fclose(stdout);
  fclose(stderr);
  for (;;) pause();
}
