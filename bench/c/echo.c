/* echo: the limit for an echo server on an event loop, written the way C does
 * it: one thread, epoll, non-blocking sockets, level-triggered.
 *   echo server CLIENTS                     serves CLIENTS connections, echoing what
 *                                           arrives, and exits when all have closed
 *   echo client PORT CLIENTS ROUNDS SIZE    opens CLIENTS connections; each sends a
 *                                           SIZE-byte request and waits for its echo,
 *                                           ROUNDS times, all at once; prints
 *                                           {"ops":N,"ns":N,"samples_ns":[...]}
 * The client is the same load generator for every server of `sockfd bench
 * async-echo` (one C client for every server), so only the server differs.
 */
#include "bench.h" /* first: it defines _GNU_SOURCE */
#include <fcntl.h>
#include <sys/epoll.h>

#define MAX_EVENTS 256

static void nonblocking(int fd) {
  int flags = fcntl(fd, F_GETFL);
  if (flags == -1 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) == -1) die("fcntl");
}

static void watch(int epoll, int fd, uint32_t events) {
  struct epoll_event event = {.events = events, .data.fd = fd};
  if (epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &event) == -1) die("epoll_ctl");
}

static void server(long long clients) {
  int listener = listen_announced();
  nonblocking(listener);
  int epoll = epoll_create1(EPOLL_CLOEXEC);
  if (epoll == -1) die("epoll_create1");
  watch(epoll, listener, EPOLLIN);
  long long accepted = 0, closed = 0;
  static char buffer[64 * 1024];
  struct epoll_event events[MAX_EVENTS];
  while (closed < clients) {
    int ready = epoll_wait(epoll, events, MAX_EVENTS, -1);
    if (ready == -1) {
      if (errno == EINTR) continue;
      die("epoll_wait");
    }
    for (int i = 0; i < ready; ++i) {
      int fd = events[i].data.fd;
      if (fd == listener) {
        for (;;) {
          int connection = accept4(listener, NULL, NULL, SOCK_NONBLOCK);
          if (connection == -1) {
            if (errno == EAGAIN || errno == EINTR) break;
            die("accept4");
          }
          set_int_option(connection, IPPROTO_TCP, TCP_NODELAY, 1, "setsockopt(TCP_NODELAY)");
          watch(epoll, connection, EPOLLIN);
          if (++accepted == clients) epoll_ctl(epoll, EPOLL_CTL_DEL, listener, NULL);
        }
        continue;
      }
      ssize_t n = recv(fd, buffer, sizeof buffer, 0);
      if (n == -1 && (errno == EAGAIN || errno == EINTR)) continue;
      if (n <= 0) { /* EOF or error: this client is done */
        close(fd);
        ++closed;
        continue;
      }
      /* A 64-byte echo always fits the socket buffer; block only in the rare short write. */
      for (ssize_t sent = 0; sent < n;) {
        ssize_t m = send(fd, buffer + sent, (size_t)(n - sent), MSG_NOSIGNAL);
        if (m == -1) {
          if (errno == EINTR) continue;
          if (errno == EAGAIN) {
            struct epoll_event out = {.events = EPOLLOUT, .data.fd = fd};
            int tmp = epoll_create1(EPOLL_CLOEXEC);
            if (tmp == -1 || epoll_ctl(tmp, EPOLL_CTL_ADD, fd, &out) == -1) die("epoll (short write)");
            while (epoll_wait(tmp, &out, 1, -1) == -1 && errno == EINTR) {}
            close(tmp);
            continue;
          }
          die("send");
        }
        sent += m;
      }
    }
  }
  close(listener);
  close(epoll);
}

struct connection {
  int fd;
  long long round;
  size_t got;
  int64_t sent_at;
};

static void client(int port, long long clients, long long rounds, long long size) {
  if (clients < 1 || size < 1 || size > 65536) usage("echo client: CLIENTS >= 1, 1 <= SIZE <= 65536");
  struct connection *connections = calloc((size_t)clients, sizeof *connections);
  int64_t *samples = malloc(sizeof(int64_t) * (size_t)(clients * rounds > 0 ? clients * rounds : 1));
  char *request = malloc((size_t)size), *reply = malloc((size_t)size);
  if (!connections || !samples || !request || !reply) die("malloc");
  memset(request, 'e', (size_t)size);
  int epoll = epoll_create1(EPOLL_CLOEXEC);
  if (epoll == -1) die("epoll_create1");
  for (long long i = 0; i < clients; ++i) {
    int fd = connect_loopback(port);
    set_int_option(fd, IPPROTO_TCP, TCP_NODELAY, 1, "setsockopt(TCP_NODELAY)");
    nonblocking(fd);
    connections[i].fd = fd;
    struct epoll_event event = {.events = EPOLLIN, .data.u64 = (uint64_t)i};
    if (epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &event) == -1) die("epoll_ctl");
  }
  long long active = clients;
  int64_t start = now_ns();
  for (long long i = 0; i < clients; ++i) {
    connections[i].sent_at = now_ns();
    send_all(connections[i].fd, request, (size_t)size, MSG_NOSIGNAL);
  }
  if (rounds == 0) active = 0;
  struct epoll_event events[MAX_EVENTS];
  while (active > 0) {
    int ready = epoll_wait(epoll, events, MAX_EVENTS, -1);
    if (ready == -1) {
      if (errno == EINTR) continue;
      die("epoll_wait");
    }
    for (int e = 0; e < ready; ++e) {
      long long i = (long long)events[e].data.u64;
      struct connection *c = &connections[i];
      ssize_t n = recv(c->fd, reply, (size_t)size - c->got, 0);
      if (n == -1 && (errno == EAGAIN || errno == EINTR)) continue;
      if (n == -1) die("recv");
      if (n == 0) { fprintf(stderr, "server closed connection %lld early\n", i); exit(1); }
      c->got += (size_t)n;
      if (c->got < (size_t)size) continue;
      int64_t now = now_ns();
      samples[i * rounds + c->round] = now - c->sent_at;
      c->got = 0;
      if (++c->round == rounds) {
        epoll_ctl(epoll, EPOLL_CTL_DEL, c->fd, NULL);
        --active;
        continue;
      }
      c->sent_at = now;
      send_all(c->fd, request, (size_t)size, MSG_NOSIGNAL);
    }
  }
  int64_t elapsed = now_ns() - start;
  for (long long i = 0; i < clients; ++i) close(connections[i].fd);
  printf("{\"ops\":%lld,\"ns\":%lld,\"samples_ns\":[", clients * rounds, (long long)elapsed);
  for (long long i = 0; i < clients * rounds; ++i) printf(i ? ",%lld" : "%lld", (long long)samples[i]);
  printf("]}\n");
  fflush(stdout);
  close(epoll);
}

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "server") == 0) server(arg_number(argv[2], "CLIENTS"));
  else if (argc == 6 && strcmp(argv[1], "client") == 0)
    client((int)arg_number(argv[2], "PORT"), arg_number(argv[3], "CLIENTS"), arg_number(argv[4], "ROUNDS"),
           arg_number(argv[5], "SIZE"));
  else usage("echo server CLIENTS | echo client PORT CLIENTS ROUNDS SIZE");
  return 0;
}
