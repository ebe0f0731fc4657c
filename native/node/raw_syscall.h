// SystemCall: one Linux system call without glibc's cancellation bracket, for
// the V8 fast calls (fast_calls.cc: send, recv, read, write; fast_socket_calls.cc:
// connect, accept4). Its result, or -errno. SOCKFD_RAW_SYSCALLS says it exists
// (otherwise those files call glibc's functions).
//
// glibc's send, recv, read, write, connect and accept4 are cancellation
// points: in a process with more than one thread (Node always has several)
// each call first runs __pthread_enable_asynccancel and after it
// __pthread_disable_asynccancel, two locked compare-exchanges on the thread's
// cancel state and ~30 instructions a call, which a single-threaded C program
// skips. Nobody cancels Node's threads (a thread cancelled inside V8 would
// leave its isolate broken anyway), so the fast path makes the plain system
// call. send and recv are sendto/recvfrom with no address, which is what
// glibc's send/recv issue on Linux. On x86-64 the `syscall` instruction itself
// (the kernel's convention: number in rax, arguments in rdi, rsi, rdx, r10, r8,
// r9; rcx and r11 clobbered; -errno in rax on failure), saving syscall(3)'s
// argument shuffle; elsewhere syscall(3), whose -1 and errno become -errno.
// Either way the caller gets exactly the errno glibc's wrapper would have left
// (errno itself is not written: nothing reads it after a fast call). The N-API
// path (native/io.cc, native/socket_calls.cc...) keeps glibc's wrappers.
#ifndef SOCKFD_NODE_RAW_SYSCALL_H
#define SOCKFD_NODE_RAW_SYSCALL_H

#include <errno.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace sockfd_node {

#if defined(__linux__) && defined(SYS_sendto) && defined(SYS_recvfrom) && defined(SYS_read) && defined(SYS_write) && \
    defined(SYS_connect) && defined(SYS_accept4)
#define SOCKFD_RAW_SYSCALLS 1
#if defined(__x86_64__)
inline long SystemCall(long number, long a, long b, long c, long d = 0, long e = 0, long f = 0) {
  register long r10 __asm__("r10") = d;
  register long r8 __asm__("r8") = e;
  register long r9 __asm__("r9") = f;
  long result;
  __asm__ volatile("syscall" : "=a"(result) : "0"(number), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9) : "rcx", "r11", "memory");
  return result;
}
#else
inline long SystemCall(long number, long a, long b, long c, long d = 0, long e = 0, long f = 0) {
  long result = ::syscall(number, a, b, c, d, e, f);
  return result >= 0 ? result : -errno;
}
#endif
#endif

}  // namespace sockfd_node

#endif  // SOCKFD_NODE_RAW_SYSCALL_H
