/* connect: the cost of a whole TCP connection's life on loopback. The client
 * connects, waits for the server's close (EOF) and closes; the server accepts
 * and closes at once. The server closing first keeps TIME_WAIT on its side,
 * so the client's ephemeral ports are never exhausted.
 *   connect server COUNT                 accepts COUNT connections, then exits
 *   connect client PORT COUNT WARMUP     prints {"ops":COUNT,"bytes":0,"ns":elapsed}
 */
#include "bench.h"

static void server(long long count) {
  int listener = listen_announced();
  for (long long i = 0; i < count; ++i) close(accept_one(listener));
  close(listener);
}

static void one_connection(int port) {
  int fd = connect_loopback(port);
  char byte;
  if (recv_all(fd, &byte, 1)) { fprintf(stderr, "server sent data instead of closing\n"); exit(1); }
  close(fd);
}

static void client(int port, long long count, long long warmup) {
  for (long long i = 0; i < warmup; ++i) one_connection(port);
  int64_t start = now_ns();
  for (long long i = 0; i < count; ++i) one_connection(port);
  print_totals(count, 0, now_ns() - start);
}

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "server") == 0) server(arg_number(argv[2], "COUNT"));
  else if (argc == 5 && strcmp(argv[1], "client") == 0)
    client((int)arg_number(argv[2], "PORT"), arg_number(argv[3], "COUNT"), arg_number(argv[4], "WARMUP"));
  else usage("connect server COUNT | connect client PORT COUNT WARMUP");
  return 0;
}
