// The Nagle section: a request written as two small send()s, then a recv() of
// the reply. With Nagle's algorithm on (the default) the second send waits for
// the ACK of the first, and the server delays that ACK (~40 ms) hoping to
// piggyback it on a reply it cannot send yet: each round stalls. TCP_NODELAY
// sends at once. The server runs in a worker thread of this process.
import { Worker } from 'node:worker_threads';
import { TcpClient } from '../lib/tcp-client.js';
import { TcpServer } from '../lib/tcp-server.js';
import type { Demo } from './support/demo.js';
import { parseTwinArgs, print, twinHelp, type TwinOption } from './support/tutorial-io.js';

const options: Record<string, TwinOption> = {
  rounds: { description: 'requests per mode', defaultValue: 20, min: 1 },
};

const HEADER = Buffer.from([0, 0, 0, 4]); // "an int": the length of what follows
const BODY = Buffer.from('ping');
const REPLY = Buffer.from('ok');

// The server: accept each connection, read header+body, reply "ok", until the client closes.
const serverSource = `
const { workerData } = await import('node:worker_threads');
const posix = await import(workerData.libUrl);
const request = Buffer.alloc(workerData.requestBytes);
for (let c = 0; c < workerData.connections; c++) {
  const { fd } = posix.accept(workerData.listenFd);
  serve: for (;;) {
    for (let got = 0; got < request.length; ) {
      const n = posix.recv(fd, request, 0, got, request.length - got);
      if (n === 0) break serve;
      got += n;
    }
    posix.send(fd, 'ok');
  }
  posix.close(fd);
}`;

export interface NagleResult {
  noDelay: boolean;
  /** Round-trip time of each request in ms. */
  rounds: number[];
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

/** Runs `rounds` two-write requests with Nagle on, then with TCP_NODELAY; the times per round. */
export async function measureNagle(rounds: number): Promise<NagleResult[]> {
  using server = new TcpServer({ bindAddress: '127.0.0.1', backlog: 2 }).initServer(0);
  const worker = new Worker(serverSource, {
    eval: true,
    workerData: {
      libUrl: new URL('../lib/posix.js', import.meta.url).href,
      listenFd: server.listenFd,
      connections: 2,
      requestBytes: HEADER.length + BODY.length,
    },
  });
  const finished = new Promise<void>((resolve, reject) => {
    worker.once('error', reject);
    worker.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`nagle server thread exited with ${code}`))));
  });
  const results: NagleResult[] = [];
  try {
    for (const noDelay of [false, true]) {
      using client = new TcpClient({ noDelay }).connect('127.0.0.1', server.port);
      const times: number[] = [];
      for (let i = 0; i < rounds; i++) {
        const start = process.hrtime.bigint();
        client.send(HEADER); // two small writes...
        client.send(BODY);
        client.recvExactly(REPLY.length); // ...then wait for the answer
        times.push(Number(process.hrtime.bigint() - start) / 1e6);
      }
      results.push({ noDelay, rounds: times });
    }
  } finally {
    await finished.catch(() => worker.terminate());
  }
  return results;
}

/** "中位数 40.10 ms，最小 0.05 ms，最大 41.20 ms" */
export function summarize(times: number[]): { median: number; min: number; max: number } {
  return { median: median(times), min: Math.min(...times), max: Math.max(...times) };
}

export const demo: Demo = {
  name: 'nagle',
  programs: [],
  summary: 'two small writes then a read, Nagle on vs TCP_NODELAY: the ~40 ms stall and its fix',
  usage: twinHelp(
    'The Nagle section: a client sends each request as two small send()s (a 4-byte header,\na 4-byte body) and waits for the reply; a server (in a worker thread) answers "ok" once\nit has both. With Nagle on, the body waits for the ACK of the header, which the server\ndelays by ~40 ms: every round stalls. With TCP_NODELAY the body leaves at once.\nPrints the round-trip times of both modes.',
    'usage: sockfd demo nagle [--rounds N]',
    options,
  ),
  async run(argv) {
    const { numbers } = parseTwinArgs(argv, options);
    const rounds = numbers['rounds']!;
    const results = await measureNagle(rounds);
    for (const result of results) {
      const { median: mid, min, max } = summarize(result.rounds);
      print(
        result.noDelay
          ? `TCP_NODELAY开启（禁用Nagle算法）：同样的${rounds}次请求\n`
          : `Nagle算法开启（默认）：每次请求两次send()（4字节 + 4字节），再recv()回复，共${rounds}次\n`,
      );
      print(`  每次往返：中位数 ${mid.toFixed(2)} ms，最小 ${min.toFixed(2)} ms，最大 ${max.toFixed(2)} ms\n`);
    }
    return 0;
  },
};
