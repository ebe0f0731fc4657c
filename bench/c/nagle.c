/* nagle: the tutorial's claim. A request is two small writes, a 4-byte header
 * then a 20-byte body; the reply is 8 bytes. MODE decides how the request is
 * written (the client keeps Nagle on unless the mode turns it off):
 *   nagle     two send() calls, Nagle on (the default)
 *   nodelay   two send() calls, TCP_NODELAY on the client
 *   writev    one writev() of both parts
 *   msgmore   send(header, MSG_MORE) then send(body)
 *   cork      TCP_CORK on, two send() calls, TCP_CORK off
 *   quickack  two send() calls, Nagle on; the server sets TCP_QUICKACK after every recv()
 *
 *   nagle server MODE
 *   nagle client PORT MODE ROUNDS WARMUP    prints {"samples_ns":[...]}
 */
#include "bench.h"  /* first: it defines _GNU_SOURCE */
#include <sys/uio.h>


enum { HEADER = 4, BODY = 20, REPLY = 8 };
enum mode { NAGLE, NODELAY, WRITEV, MSGMORE, CORK, QUICKACK };
static const char *const names[] = {"nagle", "nodelay", "writev", "msgmore", "cork", "quickack"};

static enum mode parse_mode(const char *text) {
  for (size_t i = 0; i < sizeof names / sizeof names[0]; ++i)
    if (strcmp(text, names[i]) == 0) return (enum mode)i;
  fprintf(stderr, "unknown mode '%s' (nagle, nodelay, writev, msgmore, cork, quickack)\n", text);
  exit(2);
}

static void server(enum mode mode) {
  int listener = listen_announced();
  int fd = accept_one(listener);
  char request[HEADER + BODY], reply[REPLY];
  memset(reply, 'r', sizeof reply);
  for (;;) {
    size_t got = 0;
    while (got < sizeof request) {
      ssize_t n = recv(fd, request + got, sizeof request - got, 0);
      if (n == -1) {
        if (errno == EINTR) continue;
        die("recv");
      }
      if (n == 0) {
        if (got != 0) fprintf(stderr, "client closed inside a request\n");
        close(fd);
        close(listener);
        return;
      }
      got += (size_t)n;
      /* Quick-ack mode ends by itself, so it is asked for again after every read. */
      if (mode == QUICKACK) set_int_option(fd, IPPROTO_TCP, TCP_QUICKACK, 1, "setsockopt(TCP_QUICKACK)");
    }
    send_all(fd, reply, sizeof reply, 0);
  }
}

static void one_request(int fd, enum mode mode, const char *header, const char *body) {
  switch (mode) {
    case NAGLE: case NODELAY: case QUICKACK:
      send_all(fd, header, HEADER, 0);
      send_all(fd, body, BODY, 0);
      break;
    case WRITEV: {
      struct iovec parts[2] = {{(void *)header, HEADER}, {(void *)body, BODY}};
      ssize_t n = writev(fd, parts, 2);
      if (n == -1) die("writev");
      if (n != HEADER + BODY) { fprintf(stderr, "writev: short write %zd\n", n); exit(1); }
      break;
    }
    case MSGMORE:
      send_all(fd, header, HEADER, MSG_MORE);
      send_all(fd, body, BODY, 0);
      break;
    case CORK:
      set_int_option(fd, IPPROTO_TCP, TCP_CORK, 1, "setsockopt(TCP_CORK)");
      send_all(fd, header, HEADER, 0);
      send_all(fd, body, BODY, 0);
      set_int_option(fd, IPPROTO_TCP, TCP_CORK, 0, "setsockopt(TCP_CORK)");
      break;
  }
}

static void client(int port, enum mode mode, long long rounds, long long warmup) {
  int fd = connect_loopback(port);
  if (mode == NODELAY) set_int_option(fd, IPPROTO_TCP, TCP_NODELAY, 1, "setsockopt(TCP_NODELAY)");
  int64_t *samples = malloc(sizeof(int64_t) * (size_t)(rounds > 0 ? rounds : 1));
  if (samples == NULL) die("malloc");
  char header[HEADER], body[BODY], reply[REPLY];
  memset(header, 'h', sizeof header);
  memset(body, 'b', sizeof body);
  for (long long i = -warmup; i < rounds; ++i) {
    int64_t start = now_ns();
    one_request(fd, mode, header, body);
    if (!recv_all(fd, reply, sizeof reply)) { fprintf(stderr, "server closed early\n"); exit(1); }
    if (i >= 0) samples[i] = now_ns() - start;
  }
  close(fd);
  print_samples(samples, rounds);
  free(samples);
}

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "server") == 0) server(parse_mode(argv[2]));
  else if (argc == 6 && strcmp(argv[1], "client") == 0)
    client((int)arg_number(argv[2], "PORT"), parse_mode(argv[3]), arg_number(argv[4], "ROUNDS"),
           arg_number(argv[5], "WARMUP"));
  else usage("nagle server MODE | nagle client PORT MODE ROUNDS WARMUP");
  return 0;
}
