/* pingpong: 1-byte request, 1-byte reply, TCP_NODELAY on both ends.
 *   pingpong server                        serves one connection until EOF
 *   pingpong client PORT ROUNDS WARMUP     prints {"samples_ns":[...]} (one per round)
 * Either may end with --idle-threads N (bench.h: start_idle_threads).
 */
#include "bench.h"

static void server(void) {
  int listener = listen_announced();
  int fd = accept_one(listener);
  set_int_option(fd, IPPROTO_TCP, TCP_NODELAY, 1, "setsockopt(TCP_NODELAY)");
  char byte;
  while (recv_all(fd, &byte, 1)) send_all(fd, &byte, 1, 0);
  close(fd);
  close(listener);
}

static void client(int port, long long rounds, long long warmup) {
  int fd = connect_loopback(port);
  set_int_option(fd, IPPROTO_TCP, TCP_NODELAY, 1, "setsockopt(TCP_NODELAY)");
  /* Every round is timed, the WARMUP lead-in rounds too (as in every implementation); the last ROUNDS are printed. */
  long long count = warmup + rounds;
  int64_t *samples = malloc(sizeof(int64_t) * (size_t)(count > 0 ? count : 1));
  if (samples == NULL) die("malloc");
  char byte = 'x';
  for (long long i = 0; i < count; ++i) {
    int64_t start = now_ns();
    send_all(fd, &byte, 1, 0);
    if (!recv_all(fd, &byte, 1)) { fprintf(stderr, "server closed early\n"); exit(1); }
    samples[i] = now_ns() - start;
  }
  close(fd);
  print_samples(samples + warmup, rounds);
  free(samples);
}

int main(int argc, char **argv) {
  argc = start_idle_threads(argc, argv);
  if (argc == 2 && strcmp(argv[1], "server") == 0) server();
  else if (argc == 5 && strcmp(argv[1], "client") == 0)
    client((int)arg_number(argv[2], "PORT"), arg_number(argv[3], "ROUNDS"), arg_number(argv[4], "WARMUP"));
  else usage("pingpong server | pingpong client PORT ROUNDS WARMUP [--idle-threads N]");
  return 0;
}
