/* throughput: one connection carries TOTAL bytes in CHUNK-sized send() calls;
 * the receiver reads with a CHUNK-sized buffer until EOF, then replies one
 * byte so the sender's clock covers delivery, not just queueing. Before the
 * clock starts the client sends WARMUP bytes untimed, in WARMUP_PASSES passes
 * of the same sending loop, each answered by the server with one byte (the
 * same lead-in as every other implementation of the benchmark).
 *   throughput server CHUNK TOTAL WARMUP
 *   throughput client PORT TOTAL CHUNK WARMUP     prints {"ops":sends,"bytes":TOTAL,"ns":elapsed}
 * Either may end with --idle-threads N (bench.h: start_idle_threads).
 */
#include "bench.h"

enum { WARMUP_PASSES = 4 };

/* recv() into buffer until limit bytes came or the stream ended; the byte count. */
static long long receive_up_to(int fd, char *buffer, size_t chunk, long long limit) {
  long long got = 0;
  while (got < limit) {
    ssize_t n = recv(fd, buffer, chunk, 0);
    if (n == -1) {
      if (errno == EINTR) continue;
      die("recv");
    }
    if (n == 0) break;
    got += n;
  }
  return got;
}

static void server(size_t chunk, long long total, long long warmup) {
  int listener = listen_announced();
  int fd = accept_one(listener);
  char *buffer = malloc(chunk);
  if (buffer == NULL) die("malloc");
  char answer = 'k';
  long long pass = warmup / WARMUP_PASSES;
  for (int i = 0; pass > 0 && i < WARMUP_PASSES; ++i) {
    if (receive_up_to(fd, buffer, chunk, pass) != pass) { fprintf(stderr, "the client closed during the warm-up\n"); exit(1); }
    send_all(fd, &answer, 1, 0);
  }
  long long received = receive_up_to(fd, buffer, chunk, total);
  if (received != total || receive_up_to(fd, buffer, chunk, 1) != 0) {
    fprintf(stderr, "expected %lld bytes and then the end of the stream, got %lld\n", total, received);
    exit(1);
  }
  send_all(fd, &answer, 1, 0);
  fprintf(stderr, "received %lld bytes\n", received);
  free(buffer);
  close(fd);
  close(listener);
}

/* bytes in send() calls of at most chunk bytes; the number of calls. */
static long long send_chunks(int fd, const char *buffer, size_t chunk, long long bytes) {
  long long sends = 0;
  for (long long left = bytes; left > 0; ++sends) {
    size_t length = left < (long long)chunk ? (size_t)left : chunk;
    send_all(fd, buffer, length, 0);
    left -= (long long)length;
  }
  return sends;
}

static void client(int port, long long total, size_t chunk, long long warmup) {
  char *buffer = malloc(chunk);
  if (buffer == NULL) die("malloc");
  memset(buffer, 'x', chunk);
  int fd = connect_loopback(port);
  char answer;
  long long pass = warmup / WARMUP_PASSES;
  for (int i = 0; pass > 0 && i < WARMUP_PASSES; ++i) {
    send_chunks(fd, buffer, chunk, pass);
    if (!recv_all(fd, &answer, 1)) { fprintf(stderr, "server closed during the warm-up\n"); exit(1); }
  }
  int64_t start = now_ns();
  long long sends = send_chunks(fd, buffer, chunk, total);
  if (shutdown(fd, SHUT_WR) == -1) die("shutdown");
  if (!recv_all(fd, &answer, 1)) { fprintf(stderr, "server closed without the final byte\n"); exit(1); }
  int64_t elapsed = now_ns() - start;
  close(fd);
  free(buffer);
  print_totals(sends, total, elapsed);
}

int main(int argc, char **argv) {
  argc = start_idle_threads(argc, argv);
  if (argc == 5 && strcmp(argv[1], "server") == 0) {
    long long chunk = arg_number(argv[2], "CHUNK");
    if (chunk == 0) usage("CHUNK must be positive");
    server((size_t)chunk, arg_number(argv[3], "TOTAL"), arg_number(argv[4], "WARMUP"));
  } else if (argc == 6 && strcmp(argv[1], "client") == 0) {
    long long chunk = arg_number(argv[4], "CHUNK");
    if (chunk == 0) usage("CHUNK must be positive");
    client((int)arg_number(argv[2], "PORT"), arg_number(argv[3], "TOTAL"), (size_t)chunk, arg_number(argv[5], "WARMUP"));
  } else usage("throughput server CHUNK TOTAL WARMUP | throughput client PORT TOTAL CHUNK WARMUP [--idle-threads N]");
  return 0;
}
