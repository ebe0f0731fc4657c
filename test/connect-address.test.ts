// connect(fd, address) reads the common { family: 'AF_INET', port, address }
// in JS (lib/posix.ts) and hands primitives to native code; every other shape
// goes to the native decoder with the family already read. Both must read
// each field once, in the same order, and decode and refuse exactly as the
// native decoder does (bind() decodes natively: the reference for messages).
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import * as posix from '../lib/posix.js';
import type { AddressInput } from '../lib/posix.js';
import { closeAll, expectNoLeaks, listener } from './helpers/loopback.js';

expectNoLeaks();

/** `base` behind a proxy that records every property read. */
function recorded<T extends object>(base: T): { proxy: T; reads: (string | symbol)[] } {
  const reads: (string | symbol)[] = [];
  const proxy = new Proxy(base, {
    get(target, key, receiver) {
      reads.push(key);
      return Reflect.get(target, key, receiver);
    },
  });
  return { proxy, reads };
}

/** The established connections ss sees from local port `port` (its own view, not ours). */
// Linux gives one ephemeral port to connections to different destinations, so
// the filter names the listener's port too: another test's connection from the
// same local port (seen in CI with test files side by side) is not this one.
function ssPeersOf(localPort: number, peerPort: number): string[] {
  const text = execFileSync('ss', ['-tnH', 'state', 'established', `( sport = :${localPort} and dport = :${peerPort} )`], { encoding: 'utf8' });
  return text
    .trim()
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => line.trim().split(/\s+/).at(-1) ?? '');
}

function tcp(): number {
  return posix.socket(posix.AF_INET, posix.SOCK_STREAM);
}

function messageOf(fn: () => unknown): { type: string; message: string } {
  try {
    fn();
  } catch (error) {
    return { type: (error as Error).constructor.name, message: (error as Error).message };
  }
  throw new Error('expected a throw');
}

describe('connect: the AF_INET shape read in JS', () => {
  it('connects: ss sees the connection to the listener, from the port getsockname reports', () => {
    const { fd: listenFd, port } = listener();
    const client = tcp();
    posix.connect(client, { family: 'AF_INET', address: '127.0.0.1', port });
    const local = posix.getsockname(client);
    if (local.family !== 'AF_INET') throw new Error('expected AF_INET');
    expect(ssPeersOf(local.port, port)).toEqual([`127.0.0.1:${port}`]);
    const server = posix.acceptFd(listenFd);
    closeAll(server, client, listenFd);
  });

  it('reads family, port, address once each, in the native decoder\'s order (bind reads the same)', () => {
    const { fd: listenFd, port } = listener();
    const client = tcp();
    const viaJs = recorded({ family: 'AF_INET', address: '127.0.0.1', port });
    posix.connect(client, viaJs.proxy as AddressInput);
    expect(viaJs.reads).toEqual(['family', 'port', 'address']);
    const bound = tcp();
    const viaNative = recorded({ family: 'AF_INET', address: '127.0.0.1', port: 0 });
    posix.bind(bound, viaNative.proxy as AddressInput);
    expect(viaNative.reads).toEqual(viaJs.reads);
    closeAll(posix.acceptFd(listenFd), client, bound, listenFd);
  });

  it('other families reach the native decoder without a second read of family', () => {
    const client = posix.socket(posix.AF_INET6, posix.SOCK_STREAM);
    const six = recorded({ family: 'AF_INET6', address: '::1', port: 1 });
    expect(() => posix.connect(client, six.proxy as AddressInput)).toThrow(expect.objectContaining({ code: 'ECONNREFUSED' }));
    expect(six.reads).toEqual(['family', 'port', 'flowinfo', 'scopeId', 'address']);
    const unix = posix.socket(posix.AF_UNIX, posix.SOCK_STREAM);
    const path = recorded({ family: 'AF_UNIX', path: '\0sockfd-connect-address-test-' + process.pid });
    expect(() => posix.connect(unix, path.proxy as AddressInput)).toThrow(expect.objectContaining({ code: 'ECONNREFUSED' }));
    expect(path.reads).toEqual(['family', 'path']);
    const bogus = recorded({ family: 'AF_BOGUS' });
    expect(() => posix.connect(unix, bogus.proxy as unknown as AddressInput)).toThrow(/got 'AF_BOGUS'/);
    expect(bogus.reads).toEqual(['family']);
    closeAll(client, unix);
  });

  it('refuses what the native decoder refuses, with the same error', () => {
    const a = tcp();
    const b = tcp();
    const cases: unknown[] = [
      { family: 'AF_INET', address: 'not-an-ip', port: 1 },
      { family: 'AF_INET', address: '127.0.0.1\0', port: 1 }, // a NUL would cut the text short for inet_pton
      { family: 'AF_INET', address: '1'.repeat(5000), port: 1 },
      { family: 'AF_INET', address: '127.0.0.1', port: 65536 },
      { family: 'AF_INET', address: '127.0.0.1', port: 1.5 },
      { family: 'AF_INET', address: '127.0.0.1', port: '80' },
      { family: 'AF_INET', address: '127.0.0.1', port: 2n ** 70n },
      { family: 'AF_INET', address: 2 ** 32, port: 1 },
      { family: 'AF_INET', address: {}, port: 1 },
      { family: 'AF_INET', address: '\ud800', port: 1 },
      { family: 7 },
      null,
      'AF_INET',
    ];
    for (const address of cases) {
      const viaConnect = messageOf(() => posix.connect(a, address as AddressInput));
      const viaBind = messageOf(() => posix.bind(b, address as AddressInput));
      expect(viaConnect, JSON.stringify(address, (_, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v))).toEqual(viaBind);
      expect(viaConnect.type).toMatch(/^(TypeError|RangeError)$/);
    }
    closeAll(a, b);
  });

  it('takes the other forms of the address as the object form does: an s_addr number, and none for INADDR_ANY', () => {
    const { fd: listenFd, port } = listener();
    const byNumber = tcp();
    posix.connect(byNumber, { family: 'AF_INET', address: posix.inet_addr('127.0.0.1'), port });
    const wildcard = tcp();
    posix.connect(wildcard, { family: 'AF_INET', port }); // 0.0.0.0: this host, as in C
    for (const client of [byNumber, wildcard]) {
      const local = posix.getsockname(client);
      if (local.family !== 'AF_INET') throw new Error('expected AF_INET');
      expect(ssPeersOf(local.port, port)).toEqual([`127.0.0.1:${port}`]);
    }
    closeAll(posix.acceptFd(listenFd), posix.acceptFd(listenFd), byNumber, wildcard, listenFd);
  });

  it('a getter that throws ends the call with its error; one that closes the fd gives EBADF; the fd is validated after the reads', () => {
    const { fd: listenFd, port } = listener();
    const client = tcp();
    const boom = new Error('getter');
    expect(() =>
      posix.connect(client, {
        family: 'AF_INET',
        get address(): string {
          throw boom;
        },
        port,
      }),
    ).toThrow(boom);
    const doomed = tcp();
    expect(() =>
      posix.connect(doomed, {
        family: 'AF_INET',
        get address(): string {
          posix.close(doomed);
          return '127.0.0.1';
        },
        port,
      }),
    ).toThrow(expect.objectContaining({ code: 'EBADF', syscall: 'connect' }));
    expect(() => posix.connect(-1, { family: 'AF_INET', address: '127.0.0.1', port })).toThrow(RangeError);
    closeAll(client, listenFd);
  });
});
