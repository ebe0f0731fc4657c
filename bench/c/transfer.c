/* transfer: one file over one connection in the tutorial's protocol (demo11 /
 * demo12): a 260-byte header struct st_fileinfo { char filename[256]; int
 * filesize; }, the reply "ok", the content, the reply "ok".
 * Two ways to move the content:
 *   seed      the tutorial's way, correct: read()/send() and recv()/write() of 4 KiB chunks
 *   zerocopy  sendfile(2) on the sender; splice(2) socket -> pipe -> file on the receiver
 *
 *   transfer server seed|zerocopy DIR       receives one file into DIR/<name>, then exits
 *   transfer client seed|zerocopy PORT FILE prints {"ops":1,"bytes":size,"ns":elapsed}
 *                                           (from connect to the final "ok")
 */
#include "bench.h"  /* first: it defines _GNU_SOURCE */
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <sys/sendfile.h>
#include <sys/stat.h>


enum { CHUNK = 4096, SPLICE_PIPE = 1 << 20 };

struct st_fileinfo {
  char filename[256];
  int filesize;
};

static int zerocopy_mode(const char *text) {
  if (strcmp(text, "seed") == 0) return 0;
  if (strcmp(text, "zerocopy") == 0) return 1;
  fprintf(stderr, "unknown mode '%s' (seed, zerocopy)\n", text);
  exit(2);
}

static void write_all(int fd, const char *data, size_t length) {
  while (length > 0) {
    ssize_t n = write(fd, data, length);
    if (n == -1) {
      if (errno == EINTR) continue;
      die("write");
    }
    data += n;
    length -= (size_t)n;
  }
}

static void receive_seed(int socket_fd, int file_fd, long long size) {
  char buffer[CHUNK];
  for (long long done = 0; done < size;) {
    size_t want = size - done > CHUNK ? CHUNK : (size_t)(size - done);
    if (!recv_all(socket_fd, buffer, want)) { fprintf(stderr, "client closed inside the content\n"); exit(1); }
    write_all(file_fd, buffer, want);
    done += (long long)want;
  }
}

static void receive_zerocopy(int socket_fd, int file_fd, long long size) {
  int pipe_fds[2];
  if (pipe(pipe_fds) == -1) die("pipe");
  fcntl(pipe_fds[1], F_SETPIPE_SZ, SPLICE_PIPE); /* best effort: a bigger pipe means fewer calls */
  for (long long done = 0; done < size;) {
    size_t want = size - done > SPLICE_PIPE ? SPLICE_PIPE : (size_t)(size - done);
    ssize_t in = splice(socket_fd, NULL, pipe_fds[1], NULL, want, SPLICE_F_MOVE | SPLICE_F_MORE);
    if (in == -1) {
      if (errno == EINTR) continue;
      die("splice(socket->pipe)");
    }
    if (in == 0) { fprintf(stderr, "client closed inside the content\n"); exit(1); }
    for (ssize_t left = in; left > 0;) {
      ssize_t out = splice(pipe_fds[0], NULL, file_fd, NULL, (size_t)left, SPLICE_F_MOVE | SPLICE_F_MORE);
      if (out == -1) {
        if (errno == EINTR) continue;
        die("splice(pipe->file)");
      }
      left -= out;
    }
    done += in;
  }
  close(pipe_fds[0]);
  close(pipe_fds[1]);
}

static void server(int zerocopy, const char *dir) {
  int listener = listen_announced();
  int fd = accept_one(listener);
  struct st_fileinfo info;
  if (!recv_all(fd, &info, sizeof info)) { fprintf(stderr, "client closed before the header\n"); exit(1); }
  info.filename[sizeof info.filename - 1] = '\0';
  if (info.filesize < 0 || strchr(info.filename, '/') != NULL || info.filename[0] == '\0' ||
      strcmp(info.filename, ".") == 0 || strcmp(info.filename, "..") == 0) {
    fprintf(stderr, "refused header: name '%s', size %d\n", info.filename, info.filesize);
    exit(1);
  }
  char path[PATH_MAX];
  if (snprintf(path, sizeof path, "%s/%s", dir, info.filename) >= (int)sizeof path) usage("DIR is too long");
  int file_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, 0644);
  if (file_fd == -1) die(path);
  send_all(fd, "ok", 2, 0);
  if (zerocopy) receive_zerocopy(fd, file_fd, info.filesize);
  else receive_seed(fd, file_fd, info.filesize);
  if (close(file_fd) == -1) die("close");
  send_all(fd, "ok", 2, 0);
  close(fd);
  close(listener);
}

static void expect_ok(int fd, const char *when) {
  char reply[2];
  if (!recv_all(fd, reply, sizeof reply) || memcmp(reply, "ok", 2) != 0) {
    fprintf(stderr, "the server did not answer ok %s\n", when);
    exit(1);
  }
}

static void send_seed(int socket_fd, int file_fd, long long size) {
  char buffer[CHUNK];
  for (long long done = 0; done < size;) {
    ssize_t n = read(file_fd, buffer, CHUNK);
    if (n == -1) {
      if (errno == EINTR) continue;
      die("read");
    }
    if (n == 0) { fprintf(stderr, "the file shrank while it was sent\n"); exit(1); }
    send_all(socket_fd, buffer, (size_t)n, 0);
    done += n;
  }
}

static void send_zerocopy(int socket_fd, int file_fd, long long size) {
  off_t offset = 0;
  while (offset < size) {
    ssize_t n = sendfile(socket_fd, file_fd, &offset, (size_t)(size - offset));
    if (n == -1) {
      if (errno == EINTR) continue;
      die("sendfile");
    }
    if (n == 0) { fprintf(stderr, "the file shrank while it was sent\n"); exit(1); }
  }
}

static void client(int zerocopy, int port, const char *file) {
  int file_fd = open(file, O_RDONLY);
  if (file_fd == -1) die(file);
  struct stat status;
  if (fstat(file_fd, &status) == -1) die("fstat");
  if (status.st_size > INT_MAX) { fprintf(stderr, "the tutorial's header cannot say more than 2 GiB\n"); exit(1); }
  struct st_fileinfo info;
  memset(&info, 0, sizeof info);
  char copy[PATH_MAX];
  snprintf(copy, sizeof copy, "%s", file);
  snprintf(info.filename, sizeof info.filename, "%s", basename(copy));
  info.filesize = (int)status.st_size;
  int64_t start = now_ns();
  int fd = connect_loopback(port);
  send_all(fd, &info, sizeof info, 0);
  expect_ok(fd, "to the header");
  if (zerocopy) send_zerocopy(fd, file_fd, info.filesize);
  else send_seed(fd, file_fd, info.filesize);
  expect_ok(fd, "after the content");
  int64_t elapsed = now_ns() - start;
  close(fd);
  close(file_fd);
  print_totals(1, info.filesize, elapsed);
}

int main(int argc, char **argv) {
  if (argc == 4 && strcmp(argv[1], "server") == 0) server(zerocopy_mode(argv[2]), argv[3]);
  else if (argc == 5 && strcmp(argv[1], "client") == 0)
    client(zerocopy_mode(argv[2]), (int)arg_number(argv[3], "PORT"), argv[4]);
  else usage("transfer server seed|zerocopy DIR | transfer client seed|zerocopy PORT FILE");
  return 0;
}
