/* fork: what one fork() costs, and what a fork-per-connection server (the
 * tutorial's demo10 shape) sustains.
 *   fork cost COUNT WARMUP HEAP_MB      touches HEAP_MB MiB first, then times COUNT
 *                                       fork() calls in the parent (the child _exits at
 *                                       once and is reaped); prints
 *                                       {"samples_ns":[fork() in the parent...],
 *                                        "round_ns":[fork() to waitpid() done...]}
 *   fork server COUNT                   accepts COUNT connections, one child each: the
 *                                       child reads 1 byte, answers 1 byte and exits
 *   fork client PORT COUNT WARMUP       one connection at a time: connect, send 1 byte,
 *                                       read 1 byte, close; prints {"ops":COUNT,...}
 *   fork twin-cost COUNT WARMUP SHAPE   as cost, grown first to a Node process's size
 *   fork twin-server COUNT SHAPE        as server, grown first to a Node process's size
 * SHAPE is ANON_KIB FILE_KIB MAPPINGS THREADS ARENAS PTE_KIB FILE: the Node process's
 * anonymous and file-backed resident memory, its numbers of mappings, threads and
 * malloc arenas, the size of its page tables, and a file
 * to map for the file-backed part (the node binary: Node's file RSS is mostly its
 * text). The twin's own shape goes into its JSON as "shape" (and, for the server,
 * to stderr), so a report can show both.
 */
#include "bench.h"  /* first: it defines _GNU_SOURCE */
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

/* ---- growing to a Node process's shape ------------------------------------ */

struct shape {
  long long anon_kib, file_kib, mappings, threads, arenas, pte_kib;
};

static long long status_field(const char *name) {
  FILE *file = fopen("/proc/self/status", "r");
  if (file == NULL) die("/proc/self/status");
  char line[256];
  long long value = 0;
  size_t length = strlen(name);
  while (fgets(line, sizeof line, file))
    if (strncmp(line, name, length) == 0 && line[length] == ':') value = atoll(line + length + 1);
  fclose(file);
  return value;
}

static long long mapping_count(void) {
  FILE *file = fopen("/proc/self/maps", "r");
  if (file == NULL) die("/proc/self/maps");
  long long count = 0;
  for (int c; (c = fgetc(file)) != EOF;)
    if (c == '\n') ++count;
  fclose(file);
  return count;
}

/* glibc's malloc arenas, as glibc itself lists them (one <heap nr="N"> each in
 * malloc_info). fork() locks every arena before it forks and unlocks each after,
 * in the parent and in the child: one write to each arena's page on each side. */
static long long arena_count(void) {
  char *text = NULL;
  size_t length = 0;
  FILE *stream = open_memstream(&text, &length);
  if (stream == NULL) die("open_memstream");
  if (malloc_info(0, stream) != 0) die("malloc_info");
  fclose(stream);
  long long count = 0;
  for (const char *at = text; (at = strstr(at, "<heap nr=")) != NULL; ++at) ++count;
  free(text);
  return count;
}

static struct shape current_shape(void) {
  struct shape s = {status_field("RssAnon"), status_field("RssFile"), mapping_count(), status_field("Threads"),
                    arena_count(), status_field("VmPTE")};
  return s;
}

static sem_t arena_taken; /* posted by each idle thread that took its own arena */

static void *idle_thread(void *own_arena) {
  if (own_arena != NULL) {
    /* A thread's first malloc gives it an arena of its own (while there are
     * fewer than glibc's limit, 8 per CPU), as it does for Node's threads that
     * ever allocated: V8's platform workers, libuv's pool. Kept, and touched. */
    volatile char *kept = malloc(64);
    if (kept == NULL) die("malloc");
    kept[0] = 1;
    sem_post(&arena_taken);
  }
  for (;;) pause(); /* as V8's idle workers: asleep, never scheduled */
  return NULL;
}

static void grow(long long anon_kib, long long file_kib, long long mappings, long long threads, long long arenas,
                 long long pte_kib, const char *path) {
  long page = sysconf(_SC_PAGESIZE);
  /* Threads first: each has a stack mapping (and a guard), as Node's do; the
   * first of them take an arena each, up to the Node process's count (the
   * twin's shape says if its threads were too few). */
  if (sem_init(&arena_taken, 0, 0) != 0) die("sem_init");
  long long owners = 0;
  for (long long t = current_shape().threads, missing = arenas - arena_count(); t < threads; ++t) {
    pthread_t thread;
    int own = owners < missing;
    if (pthread_create(&thread, NULL, idle_thread, own ? &arena_taken : NULL) != 0) die("pthread_create");
    owners += own;
  }
  for (long long i = 0; i < owners; ++i)
    while (sem_wait(&arena_taken) != 0)
      if (errno != EINTR) die("sem_wait");
  /* File-backed: map the file privately and read its pages (as the node binary's text). */
  if (file_kib > 0) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd == -1) die(path);
    struct stat st;
    if (fstat(fd, &st) == -1) die("fstat");
    size_t want = (size_t)(file_kib - current_shape().file_kib) << 10;
    if ((long long)want > 0) {
      if (want > (size_t)st.st_size) want = (size_t)st.st_size;
      volatile char *text = mmap(NULL, want, PROT_READ, MAP_PRIVATE, fd, 0);
      if (text == MAP_FAILED) die("mmap(file)");
      for (size_t offset = 0; offset < want; offset += (size_t)page) (void)text[offset];
    }
    close(fd);
  }
  /* Small mappings up to the count, alternately writable and read-only so that
   * the kernel cannot merge neighbours; each touched once. */
  for (long long m = mapping_count(), i = 0; m < mappings; ++m, ++i) {
    int writable = (i % 2) == 0;
    volatile char *region = mmap(NULL, (size_t)page, writable ? PROT_READ | PROT_WRITE : PROT_READ,
                                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (region == MAP_FAILED) die("mmap(small)");
    if (writable) region[0] = 1;
    else (void)region[0];
  }
  /* The anonymous rest in one region, spread over as many 2 MiB slots as the
   * Node process has page-table pages (one 4 KiB page of PTEs maps 2 MiB): V8
   * scatters its heap pages over the address space, so its page tables are
   * large for its RSS, and fork() copies page tables. No huge pages: they
   * would need no PTE page at all. */
  struct shape now = current_shape();
  long long missing = anon_kib - now.anon_kib;
  long long slots = (pte_kib - now.pte_kib) / 4;
  if (missing > 0) {
    const size_t slot = 2u << 20;
    size_t bytes = (size_t)missing << 10;
    if (slots < 1) slots = 1;
    if ((size_t)slots * slot < bytes) slots = (long long)((bytes + slot - 1) / slot);
    size_t per_slot = (bytes / (size_t)slots + (size_t)page - 1) / (size_t)page * (size_t)page;
    char *memory = mmap(NULL, (size_t)slots * slot, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (memory == MAP_FAILED) die("mmap(anon)");
    madvise(memory, (size_t)slots * slot, MADV_NOHUGEPAGE);
    for (long long i = 0; i < slots && bytes > 0; ++i) {
      size_t length = per_slot < bytes ? per_slot : bytes;
      memset(memory + (size_t)i * slot, 1, length);
      bytes -= length;
    }
  }
}

static void print_shape_json(struct shape s) {
  printf("\"shape\":{\"anonKiB\":%lld,\"fileKiB\":%lld,\"mappings\":%lld,\"threads\":%lld,\"arenas\":%lld,\"pteKiB\":%lld}",
         s.anon_kib, s.file_kib, s.mappings, s.threads, s.arenas, s.pte_kib);
}

static void print_list(const char *name, const int64_t *values, long long count) {
  printf("\"%s\":[", name);
  for (long long i = 0; i < count; ++i) printf(i ? ",%lld" : "%lld", (long long)values[i]);
  printf("]");
}

static void cost(long long count, long long warmup, long long heap_mb) {
  size_t heap = (size_t)heap_mb << 20;
  char *memory = heap ? malloc(heap) : NULL;
  if (heap && memory == NULL) die("malloc");
  if (heap) memset(memory, 1, heap); /* touched, so the pages are really mapped */
  size_t bytes = sizeof(int64_t) * (size_t)(count > 0 ? count : 1);
  int64_t *samples = malloc(bytes), *rounds = malloc(bytes);
  if (samples == NULL || rounds == NULL) die("malloc");
  for (long long i = -warmup; i < count; ++i) {
    int64_t start = now_ns();
    pid_t pid = fork();
    if (pid == -1) die("fork");
    if (pid == 0) _exit(0);
    int64_t elapsed = now_ns() - start;
    int status;
    while (waitpid(pid, &status, 0) == -1)
      if (errno != EINTR) die("waitpid");
    int64_t round = now_ns() - start;
    if (i >= 0) samples[i] = elapsed, rounds[i] = round;
  }
  printf("{");
  print_list("samples_ns", samples, count);
  printf(",");
  print_list("round_ns", rounds, count);
  printf(",");
  print_shape_json(current_shape());
  printf("}\n");
  fflush(stdout);
  free(samples);
  free(rounds);
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

static void grow_from(char **shape) {
  grow(arg_number(shape[0], "ANON_KIB"), arg_number(shape[1], "FILE_KIB"), arg_number(shape[2], "MAPPINGS"),
       arg_number(shape[3], "THREADS"), arg_number(shape[4], "ARENAS"), arg_number(shape[5], "PTE_KIB"), shape[6]);
}

int main(int argc, char **argv) {
  if (argc == 11 && strcmp(argv[1], "twin-cost") == 0) {
    grow_from(argv + 4);
    cost(arg_number(argv[2], "COUNT"), arg_number(argv[3], "WARMUP"), 0);
  } else if (argc == 10 && strcmp(argv[1], "twin-server") == 0) {
    grow_from(argv + 3);
    struct shape s = current_shape();
    fprintf(stderr, "twin: %lld KiB anon, %lld KiB file, %lld mappings, %lld threads, %lld malloc arenas, %lld KiB page tables\n",
            s.anon_kib, s.file_kib, s.mappings, s.threads, s.arenas, s.pte_kib);
    server(arg_number(argv[2], "COUNT"));
  } else if (argc == 5 && strcmp(argv[1], "cost") == 0)
    cost(arg_number(argv[2], "COUNT"), arg_number(argv[3], "WARMUP"), arg_number(argv[4], "HEAP_MB"));
  else if (argc == 3 && strcmp(argv[1], "server") == 0) server(arg_number(argv[2], "COUNT"));
  else if (argc == 5 && strcmp(argv[1], "client") == 0)
    client((int)arg_number(argv[2], "PORT"), arg_number(argv[3], "COUNT"), arg_number(argv[4], "WARMUP"));
  else usage("fork cost COUNT WARMUP HEAP_MB | fork server COUNT | fork client PORT COUNT WARMUP | "
          "fork twin-cost COUNT WARMUP SHAPE | fork twin-server COUNT SHAPE (SHAPE: ANON_KIB FILE_KIB MAPPINGS THREADS ARENAS PTE_KIB FILE)");
  return 0;
}
