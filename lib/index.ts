// sockfd: real POSIX sockets for Node.js. Every call and constant is a named
// export here and in 'sockfd/posix'; the classes build on them.
export * from './posix.js';
export * from './fs-at.js';
export * from './socket.js';
export * from './tcp-connection.js';
export * from './tcp-client.js';
export * from './tcp-server.js';
export * from './procfs.js';
export * from './process.js';
export * from './rusage.js';
export * from './async.js';
export * from './msg-async.js';
export * from './activation.js';
export * from './io.js';
export * from './net-handoff.js';
export * from './transfer/index.js';
export * from './readiness.js';
