// Constants come from the system headers through the addon; each is a named
// export of the package root and of sockfd/posix, and agrees with the values
// Node itself compiled in (an independent copy of the same headers).
import { describe, expect, it } from 'vitest';
import { constants as osConstants } from 'node:os';
import { constants as fsConstants } from 'node:fs';
import { binding } from '../lib/native.js';
import * as root from '../lib/index.js';
import * as posixModule from '../lib/posix.js';

const compiledIn = binding.constants as Record<string, number>;

describe('constants', () => {
  it('every constant the addon compiled in is a named export of the root and of sockfd/posix', () => {
    const names = Object.keys(compiledIn);
    expect(names.length).toBeGreaterThan(250);
    const exportsOf = (module: object) => module as Record<string, unknown>;
    const missingRoot = names.filter((n) => exportsOf(root)[n] !== compiledIn[n]);
    const missingPosix = names.filter((n) => exportsOf(posixModule)[n] !== compiledIn[n]);
    expect(missingRoot).toEqual([]);
    expect(missingPosix).toEqual([]);
  });

  it('errno values agree with Node’s os.constants.errno', () => {
    const errno = osConstants.errno as Record<string, number>;
    const shared = Object.keys(errno).filter((name) => name in compiledIn);
    expect(shared.length).toBeGreaterThan(70);
    for (const name of shared) expect(compiledIn[name], name).toBe(errno[name]);
  });

  it('open flags agree with Node’s fs.constants', () => {
    for (const name of ['O_RDONLY', 'O_WRONLY', 'O_RDWR', 'O_CREAT', 'O_EXCL', 'O_TRUNC', 'O_APPEND', 'O_NONBLOCK', 'O_NOFOLLOW', 'O_DIRECTORY']) {
      expect(compiledIn[name], name).toBe((fsConstants as Record<string, number>)[name]);
    }
  });

  it('the socket calls are named exports with their C names', () => {
    for (const name of ['socket', 'socketpair', 'bind', 'listen', 'accept', 'accept4', 'connect', 'send', 'recv', 'sendto', 'recvfrom', 'read', 'write', 'close', 'shutdown', 'setsockopt', 'getsockopt', 'getsockname', 'getpeername', 'open', 'dup', 'dup2', 'fcntl', 'poll', 'sendfile', 'writev', 'htons', 'htonl', 'ntohs', 'ntohl', 'inet_addr', 'inet_aton', 'inet_ntoa', 'inet_pton', 'inet_ntop', 'gethostbyname', 'getaddrinfo']) {
      expect(typeof (root as Record<string, unknown>)[name], name).toBe('function');
      expect((posixModule as Record<string, unknown>)[name], name).toBe((root as Record<string, unknown>)[name]);
    }
  });
});
