/* throughput: one connection carries TOTAL bytes in CHUNK-sized send() calls;
 * the receiver reads with a CHUNK-sized buffer until EOF, then replies one
 * byte so the sender's clock covers delivery, not just queueing.
 *   throughput server CHUNK
 *   throughput client PORT TOTAL CHUNK     prints {"ops":sends,"bytes":TOTAL,"ns":elapsed}
 */
#include "bench.h"

static void server(size_t chunk) {
  int listener = listen_announced();
  int fd = accept_one(listener);
  char *buffer = malloc(chunk);
  if (buffer == NULL) die("malloc");
  long long total = 0;
  for (;;) {
    ssize_t n = recv(fd, buffer, chunk, 0);
    if (n == -1) {
      if (errno == EINTR) continue;
      die("recv");
    }
    if (n == 0) break;
    total += n;
  }
  char done = 'k';
  send_all(fd, &done, 1, 0);
  fprintf(stderr, "received %lld bytes\n", total);
  free(buffer);
  close(fd);
  close(listener);
}

static void client(int port, long long total, size_t chunk) {
  char *buffer = malloc(chunk);
  if (buffer == NULL) die("malloc");
  memset(buffer, 'x', chunk);
  int fd = connect_loopback(port);
  long long sends = 0;
  int64_t start = now_ns();
  for (long long left = total; left > 0;) {
    size_t length = left < (long long)chunk ? (size_t)left : chunk;
    send_all(fd, buffer, length, 0);
    left -= (long long)length;
    ++sends;
  }
  if (shutdown(fd, SHUT_WR) == -1) die("shutdown");
  char done;
  if (!recv_all(fd, &done, 1)) { fprintf(stderr, "server closed without the final byte\n"); exit(1); }
  int64_t elapsed = now_ns() - start;
  close(fd);
  free(buffer);
  print_totals(sends, total, elapsed);
}

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "server") == 0) {
    long long chunk = arg_number(argv[2], "CHUNK");
    if (chunk == 0) usage("CHUNK must be positive");
    server((size_t)chunk);
  } else if (argc == 5 && strcmp(argv[1], "client") == 0) {
    long long chunk = arg_number(argv[4], "CHUNK");
    if (chunk == 0) usage("CHUNK must be positive");
    client((int)arg_number(argv[2], "PORT"), arg_number(argv[3], "TOTAL"), (size_t)chunk);
  } else usage("throughput server CHUNK | throughput client PORT TOTAL CHUNK");
  return 0;
}
