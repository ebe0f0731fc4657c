// One fuzz spec per export of the addon: how to build its arguments. A spec is
//   { args(w, ctx) -> unknown[], fds?(result) -> number[], skip?: 'why' }
// `args` mixes valid values (so calls get past validation and into the
// syscall) with hostile ones (w.hostile(), w.maybe(valid)): wrong types,
// NaN/Infinity/2**63/bigint, detached/resizable/shared/offset views, objects
// and arrays whose getters or proxy traps detach buffers, close fds or throw.
// `fds` names the fds a successful call returned, so the fuzzer closes them.
// Safety (the fuzzer runs as root on a shared machine): fds only from w.fd()
// (the fuzzer's own pool), addresses only from w.address() (loopback and Unix
// sockets of its own), paths only inside its temporary directory, host names
// only numeric, signals and pids only its own, never a call that ends the
// process or changes a limit it lives on. test/fuzz.test.ts fails when an
// export has no spec here: see docs/CONTRIBUTING.md ("Fuzzing").
import { join } from 'node:path';

const fdsOf = (result) => (Array.isArray(result) ? result : []);
const fdOf = (result) => (typeof result === 'number' ? [result] : result && typeof result === 'object' ? [result.fd] : []);

/** A value that is never a valid integer argument: safe hostility where a valid number could do harm (_exit, kill). */
function notAnInteger(w) {
  return w.random.pick([NaN, 0.5, 'x', {}, null, Symbol('x'), 2 ** 53 + 0.5, Infinity, [], 2n ** 70n]); // and never a function
}

export function makeSpecs(w) {
  const r = w.random;
  const c = w.c;
  const flags = () => w.maybe(() => r.pick([0, 0, c.MSG_DONTWAIT, c.MSG_PEEK | c.MSG_DONTWAIT, c.MSG_NOSIGNAL, c.MSG_TRUNC, c.MSG_WAITALL, c.MSG_OOB, c.MSG_MORE, r.int(2 ** 16)]));
  const small = () => w.maybe(() => r.pick([0, 1, 2, 3, 7, 64, 1024, r.int(70000)]));
  const data = (ctx) => w.maybe(() => w.buffer(ctx, { strings: true }));
  const buffer = (ctx) => w.maybe(() => w.buffer(ctx, { minLength: r.chance(0.9) ? 1 : 0 }));
  const offset = () => (r.chance(0.6) ? undefined : w.maybe(() => r.pick([0, 1, 3, 64, 70000])));
  const fd = (ctx) => w.fd(ctx);
  const level = () => w.maybe(() => r.pick([c.SOL_SOCKET, c.SOL_SOCKET, c.IPPROTO_TCP, c.IPPROTO_IP, c.IPPROTO_IPV6, c.IPPROTO_UDP, 9999]));
  // Options that cannot send anything beyond loopback (no multicast joins, no SO_BINDTODEVICE but to lo).
  const optionName = () =>
    w.maybe(() =>
      r.pick([
        c.SO_REUSEADDR, c.SO_REUSEPORT, c.SO_KEEPALIVE, c.SO_RCVBUF, c.SO_SNDBUF, c.SO_RCVTIMEO, c.SO_SNDTIMEO, c.SO_LINGER,
        c.SO_TYPE, c.SO_ERROR, c.SO_OOBINLINE, c.SO_RCVLOWAT, c.SO_PRIORITY, c.SO_PASSCRED, c.SO_PEERCRED, c.SO_ACCEPTCONN,
        c.SO_TIMESTAMP, c.TCP_NODELAY, c.TCP_CORK, c.TCP_QUICKACK, c.TCP_INFO, c.TCP_CONGESTION, c.TCP_MAXSEG, c.TCP_KEEPIDLE,
        c.TCP_USER_TIMEOUT, c.IP_TOS, c.IP_TTL, c.IPV6_V6ONLY, c.IP_RECVERR, 12345,
      ]),
    );
  const optionValue = (ctx) =>
    r.pick([
      () => r.pick([0, 1, 2, 4096, -1, 2 ** 31 - 1]),
      () => r.pick([true, false]),
      () => w.object({ onoff: w.maybe(() => r.int(2)), linger: w.maybe(() => r.int(2)) }, ctx),
      () => r.pick(['reno', 'cubic', 'lo', '', 'x'.repeat(100)]),
      () => w.buffer(ctx),
      () => w.hostile(ctx),
      () => r.pick([0.5, 3, 1e12, 1e13, NaN]), // timeouts in ms
    ])();
  const control = (ctx) =>
    w.maybe(() =>
      w.array(
        Array.from({ length: r.int(3) }, () =>
          w.object(
            r.pick([
              () => ({ type: 'SCM_RIGHTS', fds: w.array(Array.from({ length: r.range(0, 3) }, () => w.fd(ctx)), ctx) }),
              () => ({ type: 'SCM_CREDENTIALS', pid: w.maybe(() => process.pid), uid: w.maybe(() => 0), gid: w.maybe(() => 0) }),
              () => ({ type: r.pick(['IP_TOS', 'IP_TTL', 'IP_PKTINFO', 'IPV6_PKTINFO', 'IPV6_TCLASS', 'BOGUS']), value: w.maybe(() => r.int(256)), ifindex: w.maybe(() => 1), addr: w.maybe(() => '127.0.0.1'), specDst: w.maybe(() => '127.0.0.1') }),
              () => ({ level: w.maybe(() => c.SOL_SOCKET), type: w.maybe(() => r.int(64)), data: w.maybe(() => w.buffer(ctx)) }),
            ])(),
            ctx,
          ),
        ),
        ctx,
      ),
    );
  const buffers = (ctx, sending) =>
    w.maybe(() => (r.chance(0.2) ? w.buffer(ctx, { strings: sending }) : w.array(Array.from({ length: r.range(0, 4) }, () => w.buffer(ctx, { strings: sending, minLength: 1 })), ctx)));
  const socketArgs = () => [
    w.maybe(() => r.pick([c.AF_INET, c.AF_INET6, c.AF_UNIX])),
    w.maybe(() => r.pick([c.SOCK_STREAM, c.SOCK_DGRAM, c.SOCK_SEQPACKET, c.SOCK_STREAM | c.SOCK_NONBLOCK, c.SOCK_DGRAM | c.SOCK_CLOEXEC, 99])),
    r.chance(0.7) ? undefined : w.maybe(() => r.pick([0, c.IPPROTO_TCP, c.IPPROTO_UDP, 255])),
  ];
  const path = () => (r.chance(0.1) ? r.pick([NaN, {}, null, 'a\0b', join(w.dir, 'q'.repeat(5000))]) : r.pick([join(w.dir, 'file'), join(w.dir, 'new'), join(w.dir, 'missing', 'x'), w.dir, '/dev/null']));
  const openFlags = () => w.maybe(() => r.pick([c.O_RDONLY, c.O_WRONLY, c.O_RDWR, c.O_RDWR | c.O_CREAT, c.O_WRONLY | c.O_CREAT | c.O_TRUNC, c.O_RDONLY | c.O_DIRECTORY, c.O_TMPFILE | c.O_RDWR, c.O_RDONLY | c.O_NONBLOCK | c.O_CLOEXEC, c.O_RDWR | c.O_APPEND]));
  const pollEntries = (ctx) =>
    w.maybe(() => w.array(Array.from({ length: r.range(0, 5) }, () => w.object({ fd: w.maybe(() => w.fd(ctx)), events: w.maybe(() => r.pick([c.POLLIN, c.POLLOUT, c.POLLIN | c.POLLOUT, 0, 0xffff])) }, ctx)), ctx));
  const host = () => w.maybeNoString(() => r.pick(['127.0.0.1', '::1', '0.0.0.0', '::', null, '::ffff:127.0.0.1']));
  const service = () => w.maybe(() => r.pick(['80', 'http', '0', '65535', null, 80, 65536, 'no-such-service-x']));
  const hints = (ctx) =>
    r.chance(0.3) ? undefined : w.object({ family: w.maybe(() => r.pick([0, c.AF_INET, c.AF_INET6])), socktype: w.maybe(() => r.pick([0, c.SOCK_STREAM, c.SOCK_DGRAM])), protocol: w.maybe(() => 0), flags: w.maybe(() => c.AI_NUMERICHOST | r.pick([0, c.AI_PASSIVE, c.AI_NUMERICSERV, c.AI_ADDRCONFIG])) }, ctx);
  const dirFd = (ctx) => {
    const roll = r.int(10);
    const value = roll < 7 ? w.dirFd : roll < 9 ? w.fd(ctx) : w.hostileNoString(ctx);
    ctx.fds.push(value);
    return value === c.AT_FDCWD ? w.dirFd : value; // never the working directory
  };
  const relative = () => (r.chance(0.1) ? w.hostileNoString() : r.pick(['a', 'b', 'file', 'sub', 'sub/x', 'new', '', 'x\0y', 'q'.repeat(5000), 'sub/']));
  const safeSignal = () => r.pick([0, c.SIGUSR1, c.SIGWINCH, c.SIGURG]);

  return {
    // ---- socket calls
    socket: { args: () => socketArgs(), fds: fdOf },
    socketpair: { args: () => socketArgs(), fds: fdsOf },
    bind: { args: (ctx) => [fd(ctx), w.address(ctx)] },
    listen: { args: (ctx) => [fd(ctx), r.chance(0.5) ? undefined : w.maybe(() => r.pick([0, 1, 128, -1]))] },
    accept: { args: (ctx) => [fd(ctx)], fds: fdOf },
    accept4: { args: (ctx) => [fd(ctx), w.maybe(() => r.pick([0, c.SOCK_NONBLOCK, c.SOCK_CLOEXEC]))], fds: fdOf },
    acceptPeer: { args: (ctx) => [fd(ctx), w.maybe(() => r.pick([undefined, 0, c.SOCK_NONBLOCK, c.SOCK_CLOEXEC])), w.maybe(() => w.buffer(ctx, { minLength: r.chance(0.9) ? 16 : 0 }))], fds: fdOf },
    acceptFd: { args: (ctx) => [fd(ctx), w.maybe(() => r.pick([0, c.SOCK_NONBLOCK, c.SOCK_CLOEXEC]))], fds: fdOf },
    // The third argument is address.family already read by lib/posix.ts (any family, any object: still only loopback or Unix).
    connect: { args: (ctx) => [fd(ctx), w.address(ctx), ...(r.chance(0.3) ? [w.maybe(() => r.pick(['AF_INET', 'AF_INET6', 'AF_UNIX', 'AF_PACKET']))] : [])] },
    // The fields of { family: 'AF_INET', port, address } as lib/posix.ts read them. Addresses only loopback (numbers only 127.0.0.1's s_addr).
    connectInet: {
      args: (ctx) => {
        const notAnAddress = () => {
          for (;;) {
            const value = w.hostile(ctx);
            if (typeof value !== 'number' && typeof value !== 'bigint') return value;
          }
        };
        const port = w.maybe(() => r.pick([w.listenPort, w.udpPort, 0, 1]));
        const address = r.chance(0.12) ? notAnAddress() : r.pick(['127.0.0.1', 0x0100007f, undefined, 'not-an-ip', '127.0.0.1\0', '::1', '127.1']);
        return [fd(ctx), port, address];
      },
    },
    // after a fast connect/acceptFd failed with EINTR (lib/fast-socket.ts): handlers first, then as connect/acceptFd go on
    connectInterrupted: { args: (ctx) => [fd(ctx)] },
    acceptFdInterrupted: { args: (ctx) => [fd(ctx), w.maybe(() => r.pick([undefined, 0, c.SOCK_NONBLOCK, c.SOCK_CLOEXEC]))], fds: fdOf },
    shutdown: { args: (ctx) => [fd(ctx), w.maybe(() => r.int(3))] },
    getsockname: { args: (ctx) => [fd(ctx)] },
    getpeername: { args: (ctx) => [fd(ctx)] },
    setsockopt: { args: (ctx) => [fd(ctx), level(), optionName(), optionValue(ctx)] },
    getsockopt: { args: (ctx) => [fd(ctx), level(), optionName(), ...(r.chance(0.4) ? [w.buffer(ctx), offset(), offset()] : [])] },
    ioctl: { args: (ctx) => [fd(ctx), w.maybe(() => r.pick([0x541b, 0x5411, 0x8947, 0x8905, 0x5421, 0x1234])), r.chance(0.5) ? undefined : w.maybe(() => r.int(2))] },

    // ---- data transfer
    send: { args: (ctx) => [fd(ctx), data(ctx), flags(), offset(), offset()] },
    recv: { args: (ctx) => [fd(ctx), buffer(ctx), flags(), offset(), offset()] },
    write: { args: (ctx) => [fd(ctx), data(ctx), offset(), offset()] },
    read: { args: (ctx) => [fd(ctx), buffer(ctx), offset(), offset()] },
    // the same calls after their fast attempt failed with EINTR (lib/fast-io.ts): handlers first, then as above
    sendInterrupted: { args: (ctx) => [fd(ctx), data(ctx), flags(), offset(), offset()] },
    recvInterrupted: { args: (ctx) => [fd(ctx), buffer(ctx), flags(), offset(), offset()] },
    writeInterrupted: { args: (ctx) => [fd(ctx), data(ctx), offset(), offset()] },
    readInterrupted: { args: (ctx) => [fd(ctx), buffer(ctx), offset(), offset()] },
    errnoError: { args: () => [w.maybe(() => r.pick(['send', 'recv', 'read', 'write', 'close', 'connect', 'accept4', 'setsockopt', ''])), w.maybe(() => r.pick([1, 4, 9, 4095, 4096, 0]))] },
    Readiness: {
      construct: true,
      args: (ctx) => [w.maybe(() => () => {})],
      // control(op, fd, events, generation) with valid and hostile values, on a live or closed set; always closed at the end.
      exercise: (readiness, ctx) => {
        try {
          for (let i = r.int(4); i > 0; i--) {
            if (r.chance(0.1)) readiness.close();
            readiness.control(w.maybe(() => r.int(3)), fd(ctx), w.maybe(() => r.pick([c.EPOLLIN, c.EPOLLOUT, c.EPOLLIN | c.EPOLLET, c.EPOLLONESHOT, 0, 1 << 30])), w.maybe(() => r.int(2 ** 31)));
          }
        } finally {
          readiness.close();
        }
      },
    },
    sendto: { args: (ctx) => [fd(ctx), data(ctx), flags(), w.address(ctx), offset(), offset()] },
    recvfrom: { args: (ctx) => [fd(ctx), buffer(ctx), flags(), offset(), offset()] },
    writev: { args: (ctx) => [fd(ctx), w.maybe(() => w.array(Array.from({ length: r.range(0, 5) }, () => w.buffer(ctx, { strings: true })), ctx))] },
    readv: { args: (ctx) => [fd(ctx), buffers(ctx, false)] },
    sendfile: { args: (ctx) => [fd(ctx), fd(ctx), w.maybe(() => r.pick([null, 0, 100, 2 ** 40])), w.maybe(() => r.pick([0, 1, 4096, 2 ** 40]))] },
    splice: { args: (ctx) => [fd(ctx), w.maybe(() => r.pick([null, 0, 5])), fd(ctx), w.maybe(() => r.pick([null, 0])), w.maybe(() => r.pick([0, 1, 65536])), r.chance(0.5) ? undefined : w.maybe(() => c.SPLICE_F_NONBLOCK)] },
    sendmsg: { args: (ctx) => [fd(ctx), buffers(ctx, true), control(ctx), flags(), r.chance(0.5) ? undefined : w.address(ctx)] },
    recvmsg: { args: (ctx) => [fd(ctx), buffers(ctx, false), w.maybe(() => r.pick([0, 64, 1024])), flags()], fds: controlFds },
    sendmmsg: { args: (ctx) => [fd(ctx), w.maybe(() => w.array(Array.from({ length: r.range(0, 3) }, () => w.object({ buffers: buffers(ctx, true), control: control(ctx), address: r.chance(0.5) ? undefined : w.address(ctx) }, ctx)), ctx)), flags()] },
    recvmmsg: { args: (ctx) => [fd(ctx), w.maybe(() => w.array(Array.from({ length: r.range(0, 3) }, () => buffers(ctx, false)), ctx)), flags(), w.maybe(() => r.pick([0, 64]))], fds: batchFds },
    trySendmsg: { args: (ctx) => [fd(ctx), buffers(ctx, true), control(ctx), flags(), r.chance(0.5) ? undefined : w.address(ctx)] },
    tryRecvmsg: { args: (ctx) => [fd(ctx), buffers(ctx, false), w.maybe(() => r.pick([0, 64, 1024])), flags()], fds: controlFds },
    trySendmmsg: { args: (ctx) => [fd(ctx), w.maybe(() => w.array(Array.from({ length: r.range(0, 3) }, () => w.object({ buffers: buffers(ctx, true) }, ctx)), ctx)), flags()] },
    tryRecvmmsg: { args: (ctx) => [fd(ctx), w.maybe(() => w.array(Array.from({ length: r.range(0, 3) }, () => buffers(ctx, false)), ctx)), flags(), w.maybe(() => r.pick([0, 64]))], fds: batchFds },
    CMSG_SPACE: { args: () => [w.maybe(() => r.pick([0, 4, 12, 2 ** 20]))] },
    CMSG_LEN: { args: () => [w.maybe(() => r.pick([0, 4, 12, 2 ** 20]))] },

    // ---- fds
    open: { args: () => [path(), openFlags(), r.chance(0.5) ? undefined : w.maybe(() => r.pick([0o600, 0o7777, 0o10000]))], fds: fdOf },
    close: { args: (ctx) => [fd(ctx)] },
    pipe: { args: () => [r.chance(0.5) ? undefined : w.maybe(() => r.pick([0, c.O_NONBLOCK, c.O_CLOEXEC, 1 << 30]))], fds: fdsOf },
    dup: { args: (ctx) => [fd(ctx)], fds: fdOf },
    dup2: { args: (ctx) => [fd(ctx), fd(ctx)], fds: fdOf },
    fcntl: { args: (ctx) => [fd(ctx), w.maybe(() => r.pick([c.F_GETFD, c.F_SETFD, c.F_GETFL, c.F_SETFL, c.F_DUPFD, c.F_DUPFD_CLOEXEC, c.F_GETPIPE_SZ, c.F_SETPIPE_SZ, 999])), w.maybe(() => r.pick([0, 1, c.O_NONBLOCK, 4096, 100]))], fds: (result, args) => ([c.F_DUPFD, c.F_DUPFD_CLOEXEC].includes(typeof args[1] === 'bigint' ? Number(args[1]) : args[1]) ? fdOf(result) : []) },
    poll: { args: (ctx) => [pollEntries(ctx), w.maybe(() => r.pick([0, 0, 1, 3, -1]))] },

    // *at calls: the fuzzer's directory fd (or a non-directory of the pool) and
    // relative names only - never AT_FDCWD, never an absolute path or '..'.
    openat: { args: (ctx) => [dirFd(ctx), relative(), openFlags(), r.chance(0.5) ? undefined : w.maybe(() => 0o600)], fds: fdOf },
    mkdirat: { args: (ctx) => [dirFd(ctx), relative(), r.chance(0.5) ? undefined : w.maybe(() => r.pick([0o700, 0o7777]))] },
    unlinkat: { args: (ctx) => [dirFd(ctx), relative(), r.chance(0.5) ? undefined : w.maybe(() => r.pick([0, c.AT_REMOVEDIR, 0x4000]))] },
    renameat: { args: (ctx) => [dirFd(ctx), relative(), dirFd(ctx), relative(), r.chance(0.5) ? undefined : w.maybe(() => r.pick([0, c.RENAME_NOREPLACE, c.RENAME_EXCHANGE, 3]))] },
    fstatat: { args: (ctx) => [dirFd(ctx), relative(), r.chance(0.5) ? undefined : w.maybe(() => r.pick([0, c.AT_SYMLINK_NOFOLLOW, c.AT_EMPTY_PATH, 0x1]))] },
    fstat: { args: (ctx) => [fd(ctx)] },
    fstatvfs: { args: (ctx) => [fd(ctx)] },

    // ---- names and addresses (numeric only: nothing may query DNS)
    htons: { args: () => [w.maybe(() => r.int(65536))] },
    htonl: { args: () => [w.maybe(() => r.int(2 ** 32))] },
    ntohs: { args: () => [w.maybe(() => r.int(65536))] },
    ntohl: { args: () => [w.maybe(() => r.int(2 ** 32))] },
    inet_addr: { args: () => [w.maybe(() => r.pick(['127.0.0.1', '255.255.255.255', 'x', '1.2.3', '']))] },
    inet_aton: { args: () => [w.maybe(() => r.pick(['127.0.0.1', '0x7f.1', 'x', '']))] },
    inet_ntoa: { args: () => [w.maybe(() => r.int(2 ** 32))] },
    inet_pton: { args: () => [w.maybe(() => r.pick([c.AF_INET, c.AF_INET6, c.AF_UNIX])), w.maybe(() => r.pick(['127.0.0.1', '::1', 'fe80::1%1', 'x']))] },
    inet_ntop: { args: (ctx) => [w.maybe(() => r.pick([c.AF_INET, c.AF_INET6])), w.maybe(() => w.buffer(ctx)), offset(), offset()] },
    gethostbyname: { args: () => [w.maybeNoString(() => r.pick(['127.0.0.1', '0.0.0.0', '255.255.255.255']))] },
    getaddrinfo: { args: (ctx) => [host(), service(), hints(ctx)] },
    getnameinfo: {
      // NI_NUMERICHOST always: a reverse lookup of anything but a numeric answer could ask DNS.
      args: (ctx) => [w.object(r.pick([{ family: 'AF_INET', address: '127.0.0.1', port: r.int(65536) }, { family: 'AF_INET6', address: '::1', port: 80 }, { family: 'AF_UNIX', path: '/x' }]), ctx), w.maybe(() => c.NI_NUMERICHOST | r.pick([0, c.NI_NUMERICSERV, c.NI_DGRAM, c.NI_NAMEREQD]))],
    },
    // 127.0.0.1 only: /etc/hosts answers it; any other address would be a DNS query.
    gethostbyaddr: { args: () => [w.maybeNoString(() => r.pick(['127.0.0.1', 'x', '::1'])), r.pick([c.AF_INET, 99, undefined])] },
    ip_mreqn: { args: (ctx) => [w.object({ multiaddr: w.maybe(() => '239.1.2.3'), address: w.maybe(() => '127.0.0.1'), ifindex: w.maybe(() => r.pick([0, 1, 'lo'])) }, ctx)] },
    ip_mreq_source: { args: (ctx) => [w.object({ multiaddr: w.maybe(() => '232.1.2.3'), interface: w.maybe(() => '127.0.0.1'), sourceaddr: w.maybe(() => '127.0.0.1') }, ctx)] },
    ipv6_mreq: { args: (ctx) => [w.object({ multiaddr: w.maybe(() => 'ff02::1'), ifindex: w.maybe(() => r.pick([0, 1, 'lo'])) }, ctx)] },
    packet_mreq: { args: (ctx) => [w.object({ ifindex: w.maybe(() => r.pick([1, 'lo', 0])), type: w.maybe(() => r.int(4)), address: w.maybe(() => r.pick(['aa:bb:cc:dd:ee:ff', w.buffer(ctx), undefined])) }, ctx)] },
    if_nametoindex: { args: () => [w.maybe(() => r.pick(['lo', 'no-such-if', '', 'x'.repeat(20)]))] },
    if_indextoname: { args: () => [w.maybe(() => r.pick([1, 0, 2 ** 31 - 1]))] },
    if_nameindex: { args: () => [] },
    getifaddrs: { args: () => [] },
    gethostname: { args: () => [] },

    // ---- processes, limits, signals: only this process, only harmless values
    getpid: { args: () => [] },
    clock_gettime: { args: (ctx) => [w.maybe(() => r.pick([c.CLOCK_MONOTONIC, c.CLOCK_REALTIME, c.CLOCK_BOOTTIME, c.CLOCK_PROCESS_CPUTIME_ID, ((~process.pid) << 3) | 2, -1, 99])), r.chance(0.3) ? undefined : w.maybe(() => w.timespecView(ctx))] },
    getppid: { args: () => [] },
    waitpid: { args: () => [w.maybe(() => r.pick([-1, 0, process.pid, 2 ** 31 - 1])), w.maybe(() => r.pick([c.WNOHANG, c.WNOHANG | c.WUNTRACED]))] },
    kill: { args: () => (r.chance(0.8) ? [process.pid, safeSignal()] : r.chance(0.5) ? [notAnInteger(w), 0] : [process.pid, notAnInteger(w)]) },
    _exit: { args: () => [notAnInteger(w)] }, // never a valid status: it must throw before exiting
    getrlimit: { args: () => [w.maybe(() => r.int(16)), r.chance(0.5) ? undefined : r.pick([true, false])] },
    getrusage: { args: () => [w.maybe(() => r.pick([c.RUSAGE_SELF, c.RUSAGE_CHILDREN, c.RUSAGE_THREAD, 2, -2]))] },
    setrlimit: {
      // RLIMIT_CORE only (0 or the current values): any other limit could end the fuzzer.
      args: () => {
        const core = w.binding.getrlimit(c.RLIMIT_CORE);
        return r.chance(0.7) ? [c.RLIMIT_CORE, r.pick([0, core.soft]), r.chance(0.5) ? undefined : core.hard] : [r.pick([16, -1, NaN, 'x', 2 ** 40]), notAnInteger(w)];
      },
    },
    signalAction: { args: () => [r.pick([c.SIGWINCH, c.SIGURG, c.SIGKILL, c.SIGSEGV, c.SIGRTMAX, 40, 0, 65, NaN, 'SIGINT']), w.maybe(() => r.int(3))] },
    setSignalDispatcher: { args: () => [notAnInteger(w)] }, // never a function: the library's dispatcher stays
    setRestartAfterSignal: { args: () => [w.maybe(() => r.chance(0.8))] },
    getRestartAfterSignal: { args: () => [] },
    fork: { skip: 'forks the fuzzer; test/fork.test.ts and the lifetimes suite cover it' },
    forkPidCell: { args: () => (r.chance(0.8) ? [] : [notAnInteger(w)]) }, // takes nothing (extra arguments are ignored): an Int32Array over fork()'s scratch

    // ---- the event loop (async natives): promises are awaited in the fuzzer's yields
    asyncCore: { args: () => [notAnInteger(w)] }, // never a function: lib/async.ts's close hook stays
    asyncWatch: { args: (ctx) => [fd(ctx)] },
    asyncKeepAlive: { args: () => [w.maybe(() => r.chance(0.5))] }, // the keeper's next check lets go again
    asyncRelease: { args: (ctx) => [fd(ctx)] },
    asyncGeneration: { args: (ctx) => [fd(ctx)] },
    asyncGenerations: { args: () => [] },
    asyncStats: { args: () => [] },
    tryRecv: { args: (ctx) => [fd(ctx), buffer(ctx), flags(), offset(), offset()] },
    trySend: { args: (ctx) => [fd(ctx), data(ctx), flags(), offset(), offset()] },
    tryRecvfrom: { args: (ctx) => [fd(ctx), buffer(ctx), flags(), offset(), offset()] },
    trySendto: { args: (ctx) => [fd(ctx), data(ctx), flags(), w.address(ctx), offset(), offset()] },
    tryAccept: { args: (ctx) => [fd(ctx), r.chance(0.5) ? undefined : w.maybe(() => c.SOCK_CLOEXEC)], fds: fdOf },
    tryConnect: { args: (ctx) => [fd(ctx), w.address(ctx)] },
    connectResult: { args: (ctx) => [fd(ctx)] },
  };
}

function controlFds(result) {
  const fds = [];
  if (result && typeof result === 'object' && Array.isArray(result.control))
    for (const message of result.control) if (message && Array.isArray(message.fds)) fds.push(...message.fds);
  return fds;
}

function batchFds(result) {
  return Array.isArray(result) ? result.flatMap(controlFds) : [];
}
