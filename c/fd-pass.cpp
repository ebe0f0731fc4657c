// fd passing over a Unix-domain socket with sendmsg/recvmsg and SCM_RIGHTS,
// the C peer of sockfd's sendFds/recvFds (not from the tutorial).
//   fd-pass send <socket-path> <file>   connects, sends "file" and the file's fd
//   fd-pass recv <socket-path>          listens, accepts one peer, receives up to
//                                       4 fds, prints the message, then for each
//                                       fd its first line read from offset 0
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int unix_address(const char *path, struct sockaddr_un *address) {
  memset(address, 0, sizeof *address);
  address->sun_family = AF_UNIX;
  if (strlen(path) >= sizeof address->sun_path) return -1;
  strcpy(address->sun_path, path);
  return 0;
}

static int do_send(const char *path, const char *file) {
  struct sockaddr_un address;
  if (unix_address(path, &address) != 0) { fprintf(stderr, "path too long\n"); return 1; }
  int sock = socket(AF_UNIX, SOCK_STREAM, 0);
  if (connect(sock, (struct sockaddr *)&address, sizeof address) != 0) { perror("connect"); return 1; }
  int fd = open(file, O_RDONLY);
  if (fd < 0) { perror("open"); return 1; }
  char data[] = "file";
  struct iovec iov = { data, sizeof data - 1 };
  union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } control;
  memset(&control, 0, sizeof control);
  struct msghdr msg;
  memset(&msg, 0, sizeof msg);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.buf;
  msg.msg_controllen = sizeof control.buf;
  struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
  cmsg->cmsg_level = SOL_SOCKET;
  cmsg->cmsg_type = SCM_RIGHTS;
  cmsg->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(cmsg), &fd, sizeof fd);
  if (sendmsg(sock, &msg, 0) < 0) { perror("sendmsg"); return 1; }
  printf("sent fd %d\n", fd);
  close(fd);
  close(sock);
  return 0;
}

static int do_recv(const char *path) {
  struct sockaddr_un address;
  if (unix_address(path, &address) != 0) { fprintf(stderr, "path too long\n"); return 1; }
  int listener = socket(AF_UNIX, SOCK_STREAM, 0);
  if (bind(listener, (struct sockaddr *)&address, sizeof address) != 0) { perror("bind"); return 1; }
  if (listen(listener, 1) != 0) { perror("listen"); return 1; }
  printf("listening\n");
  fflush(stdout);
  int sock = accept(listener, NULL, NULL);
  if (sock < 0) { perror("accept"); return 1; }
  char data[256];
  struct iovec iov = { data, sizeof data - 1 };
  union { char buf[CMSG_SPACE(4 * sizeof(int))]; struct cmsghdr align; } control;
  struct msghdr msg;
  memset(&msg, 0, sizeof msg);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.buf;
  msg.msg_controllen = sizeof control.buf;
  ssize_t n = recvmsg(sock, &msg, 0);
  if (n < 0) { perror("recvmsg"); return 1; }
  data[n] = 0;
  printf("message %s\n", data);
  for (struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg); cmsg; cmsg = CMSG_NXTHDR(&msg, cmsg)) {
    if (cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS) continue;
    int count = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (int i = 0; i < count; i++) {
      int fd;
      memcpy(&fd, CMSG_DATA(cmsg) + i * sizeof(int), sizeof fd);
      char line[256] = {0};
      ssize_t got = pread(fd, line, sizeof line - 1, 0);
      if (got < 0) { perror("pread"); return 1; }
      char *newline = strchr(line, '\n');
      if (newline) *newline = 0;
      printf("fd %d: %s\n", i, line);
      close(fd);
    }
  }
  close(sock);
  close(listener);
  return 0;
}

int main(int argc, char *argv[]) {
  if (argc == 4 && strcmp(argv[1], "send") == 0) return do_send(argv[2], argv[3]);
  if (argc == 3 && strcmp(argv[1], "recv") == 0) return do_recv(argv[2]);
  fprintf(stderr, "usage: %s send <socket-path> <file> | recv <socket-path>\n", argv[0]);
  return 2;
}
