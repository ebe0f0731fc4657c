// sockfd: real POSIX sockets for Node.js. Every call and constant is a named
// export here and in 'sockfd/posix'; the classes build on them.
export * from './posix.js';
export * from './socket.js';
