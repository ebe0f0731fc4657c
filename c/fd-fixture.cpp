// fd-fixture.cpp: not from the tutorial. A process that holds known fds so the
// fd tools can be checked against what the process itself says it holds:
// a file, a TCP listener on 127.0.0.1 (port chosen by the kernel), a connected
// TCP pair, a bound UDP socket and a Unix stream socketpair. It prints one line
// per fd ("kind fd detail"), then "ready", and waits until stdin closes.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

static void die(const char *what) { perror(what); exit(1); }

static unsigned short local_port(int fd)
{
  struct sockaddr_in addr;
  socklen_t len = sizeof(addr);
  if (getsockname(fd, (struct sockaddr *)&addr, &len) != 0) die("getsockname");
  return ntohs(addr.sin_port);
}

static int inet_socket(int type)
{
  int fd = socket(AF_INET, type, 0);
  if (fd == -1) die("socket");
  return fd;
}

static struct sockaddr_in loopback(unsigned short port)
{
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof(addr));
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  return addr;
}

int main(int argc, char *argv[])
{
  if (argc != 2) { fprintf(stderr, "usage: fd-fixture FILE\n"); return 2; }
  int file = open(argv[1], O_CREAT | O_RDWR | O_TRUNC, 0600);
  if (file == -1) die("open");

  int listener = inet_socket(SOCK_STREAM);
  struct sockaddr_in addr = loopback(0);
  if (bind(listener, (struct sockaddr *)&addr, sizeof(addr)) != 0) die("bind");
  if (listen(listener, 5) != 0) die("listen");
  unsigned short port = local_port(listener);

  int client = inet_socket(SOCK_STREAM);
  addr = loopback(port);
  if (connect(client, (struct sockaddr *)&addr, sizeof(addr)) != 0) die("connect");
  int accepted = accept(listener, 0, 0);
  if (accepted == -1) die("accept");

  int udp = inet_socket(SOCK_DGRAM);
  addr = loopback(0);
  if (bind(udp, (struct sockaddr *)&addr, sizeof(addr)) != 0) die("bind");

  int pair[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair) != 0) die("socketpair");

  printf("file %d %s\n", file, argv[1]);
  printf("listen %d %u\n", listener, port);
  printf("client %d %u\n", client, local_port(client));
  printf("accepted %d %u\n", accepted, local_port(accepted));
  printf("udp %d %u\n", udp, local_port(udp));
  printf("unix %d %d\n", pair[0], pair[1]);
  printf("ready\n");
  fflush(stdout);

  char byte;
  while (read(STDIN_FILENO, &byte, 1) > 0) {}
  return 0;
}
