/* Helpers shared by the C reference programs of `sockfd bench`.
 *
 * The protocol with the harness is the same for every program, C or Node:
 *   - a server binds 127.0.0.1 port 0 and prints "port N" on stdout;
 *   - a client prints one JSON object on stdout when it is done, e.g.
 *     {"samples_ns":[...]} (latency) or {"ops":N,"bytes":N,"ns":N} (rate, throughput).
 * Every failure is reported perror-style and exits 1, so the harness can show it.
 */
#ifndef SOCKFD_BENCH_H
#define SOCKFD_BENCH_H

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

static inline _Noreturn void die(const char *what) {
  perror(what);
  exit(1);
}

static inline _Noreturn void usage(const char *text) {
  fprintf(stderr, "usage: %s\n", text);
  exit(2);
}

static inline long long arg_number(const char *text, const char *name) {
  char *end = NULL;
  errno = 0;
  long long value = strtoll(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || value < 0) {
    fprintf(stderr, "%s must be a non-negative integer, got '%s'\n", name, text);
    exit(2);
  }
  return value;
}

static inline int64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void *waiting_thread(void *unused) {
  (void)unused;
  for (;;) pause();
  return NULL;
}

/* "--idle-threads N" at the end of the command line (the "C+threads" rows): N
 * threads that only wait, started first, so that this process shares its fd
 * table between threads as a Node process does. The kernel then takes and
 * drops a file reference in every send/recv (fdget's light path needs a table
 * no other thread uses), and glibc's send/recv run their cancellation bracket
 * (multi-threaded): what a C program with Node's threads pays. Returns argc
 * without the option. */
static inline int start_idle_threads(int argc, char **argv) {
  if (argc < 3 || strcmp(argv[argc - 2], "--idle-threads") != 0) return argc;
  long long count = arg_number(argv[argc - 1], "--idle-threads");
  for (long long i = 0; i < count; ++i) {
    pthread_t thread;
    int error = pthread_create(&thread, NULL, waiting_thread, NULL);
    if (error != 0) {
      errno = error;
      die("pthread_create");
    }
    pthread_detach(thread);
  }
  return argc - 2;
}

static inline void set_int_option(int fd, int level, int name, int value, const char *what) {
  if (setsockopt(fd, level, name, &value, sizeof value) == -1) die(what);
}

/* 127.0.0.1:port (0: the kernel chooses). */
static inline struct sockaddr_in loopback(int port) {
  struct sockaddr_in address;
  memset(&address, 0, sizeof address);
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons((uint16_t)port);
  return address;
}

/* A listening TCP socket on 127.0.0.1, port chosen by the kernel, announced on stdout. */
static inline int listen_announced(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd == -1) die("socket");
  struct sockaddr_in address = loopback(0);
  if (bind(fd, (struct sockaddr *)&address, sizeof address) == -1) die("bind");
  if (listen(fd, SOMAXCONN) == -1) die("listen");
  socklen_t length = sizeof address;
  if (getsockname(fd, (struct sockaddr *)&address, &length) == -1) die("getsockname");
  printf("port %d\n", ntohs(address.sin_port));
  fflush(stdout);
  return fd;
}

static inline int accept_one(int listener) {
  for (;;) {
    int fd = accept(listener, NULL, NULL);
    if (fd != -1) return fd;
    if (errno != EINTR) die("accept");
  }
}

static inline int connect_loopback(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd == -1) die("socket");
  struct sockaddr_in address = loopback(port);
  if (connect(fd, (struct sockaddr *)&address, sizeof address) == -1) die("connect");
  return fd;
}

static inline void send_all(int fd, const void *data, size_t length, int flags) {
  const char *p = data;
  while (length > 0) {
    ssize_t n = send(fd, p, length, flags);
    if (n == -1) {
      if (errno == EINTR) continue;
      die("send");
    }
    p += n;
    length -= (size_t)n;
  }
}

/* Reads exactly `length` bytes; returns 0 when the peer closed first (at a message boundary). */
static inline int recv_all(int fd, void *buffer, size_t length) {
  char *p = buffer;
  size_t got = 0;
  while (got < length) {
    ssize_t n = recv(fd, p + got, length - got, 0);
    if (n == -1) {
      if (errno == EINTR) continue;
      die("recv");
    }
    if (n == 0) {
      if (got == 0) return 0;
      fprintf(stderr, "recv: peer closed after %zu of %zu bytes\n", got, length);
      exit(1);
    }
    got += (size_t)n;
  }
  return 1;
}

static inline void print_samples(const int64_t *samples, long long count) {
  printf("{\"samples_ns\":[");
  for (long long i = 0; i < count; ++i) printf(i ? ",%lld" : "%lld", (long long)samples[i]);
  printf("]}\n");
  fflush(stdout);
}

static inline void print_totals(long long ops, long long bytes, int64_t ns) {
  printf("{\"ops\":%lld,\"bytes\":%lld,\"ns\":%lld}\n", ops, bytes, (long long)ns);
  fflush(stdout);
}

#endif
