/* fork: what one fork() costs, and what a fork-per-connection server (the
 * tutorial's demo10 shape) sustains.
 *   fork cost COUNT WARMUP HEAP_MB      touches HEAP_MB MiB first, then times COUNT
 *                                       fork() calls in the parent (the child _exits at
 *                                       once and is reaped); prints {"samples_ns":[...]}
 *   fork server COUNT                   accepts COUNT connections, one child each: the
 *                                       child reads 1 byte, answers 1 byte and exits
 *   fork client PORT COUNT WARMUP       one connection at a time: connect, send 1 byte,
 *                                       read 1 byte, close; prints {"ops":COUNT,...}
 */
#include "bench.h"  /* first: it defines _GNU_SOURCE */
#include <signal.h>
#include <sys/wait.h>


static void cost(long long count, long long warmup, long long heap_mb) {
  size_t heap = (size_t)heap_mb << 20;
  char *memory = heap ? malloc(heap) : NULL;
  if (heap && memory == NULL) die("malloc");
  if (heap) memset(memory, 1, heap); /* touched, so the pages are really mapped */
  int64_t *samples = malloc(sizeof(int64_t) * (size_t)(count > 0 ? count : 1));
  if (samples == NULL) die("malloc");
  for (long long i = -warmup; i < count; ++i) {
    int64_t start = now_ns();
    pid_t pid = fork();
    if (pid == -1) die("fork");
    if (pid == 0) _exit(0);
    int64_t elapsed = now_ns() - start;
    int status;
    while (waitpid(pid, &status, 0) == -1)
      if (errno != EINTR) die("waitpid");
    if (i >= 0) samples[i] = elapsed;
  }
  print_samples(samples, count);
  free(samples);
  free(memory);
}

static void server(long long count) {
  int listener = listen_announced();
  signal(SIGCHLD, SIG_IGN); /* the kernel reaps the children */
  for (long long i = 0; i < count; ++i) {
    int fd = accept_one(listener);
    pid_t pid = fork();
    if (pid == -1) die("fork");
    if (pid == 0) {
      close(listener);
      char byte;
      if (recv_all(fd, &byte, 1)) send_all(fd, &byte, 1, 0);
      close(fd);
      _exit(0);
    }
    close(fd);
  }
  close(listener);
}

static void client(int port, long long count, long long warmup) {
  int64_t start = 0;
  for (long long i = -warmup; i < count; ++i) {
    if (i == 0) start = now_ns();
    int fd = connect_loopback(port);
    char byte = 'f';
    send_all(fd, &byte, 1, 0);
    if (!recv_all(fd, &byte, 1)) { fprintf(stderr, "server closed without answering\n"); exit(1); }
    close(fd);
  }
  print_totals(count, 0, now_ns() - start);
}

int main(int argc, char **argv) {
  if (argc == 5 && strcmp(argv[1], "cost") == 0)
    cost(arg_number(argv[2], "COUNT"), arg_number(argv[3], "WARMUP"), arg_number(argv[4], "HEAP_MB"));
  else if (argc == 3 && strcmp(argv[1], "server") == 0) server(arg_number(argv[2], "COUNT"));
  else if (argc == 5 && strcmp(argv[1], "client") == 0)
    client((int)arg_number(argv[2], "PORT"), arg_number(argv[3], "COUNT"), arg_number(argv[4], "WARMUP"));
  else usage("fork cost COUNT WARMUP HEAP_MB | fork server COUNT | fork client PORT COUNT WARMUP");
  return 0;
}
