// nagle: the tutorial's claim, measured. A request is written as two small
// pieces (a 4-byte header, then a 20-byte body) and answered with 8 bytes.
// With Nagle on, the body waits for the ACK of the header, and the receiver
// delays that ACK (delayed ACK, 40 ms minimum on Linux) hoping to piggyback
// it on data it never sends before the body arrives: every round costs ~40 ms.
// Each mode is one way out; C and sockfd run the same code per mode.
import * as posix from '../lib/posix.js';
import { bySize, measureCase, pairRun, type BenchContext, type Benchmark } from './harness/harness.js';
import type { CaseResult, RunOutput } from './harness/model.js';
import { choiceArg, connectLoopback, intArg, listenAnnounced, nowNs, printResult, recvAll, sendAll } from './harness/peer-io.js';

const NAME = 'nagle';
const HEADER = 4;
const BODY = 20;
const REPLY = 8;
const modes = ['nagle', 'nodelay', 'writev', 'msgmore', 'cork', 'quickack'] as const;
type Mode = (typeof modes)[number];

/** The table's names of the modes, and what each does. */
const modeInfo: Record<Mode, { label: string; how: string }> = {
  nagle: { label: 'Nagle on (default)', how: 'two send() calls, Nagle on' },
  nodelay: { label: 'TCP_NODELAY', how: 'two send() calls, TCP_NODELAY on the sender' },
  writev: { label: 'one writev()', how: 'header and body in one writev(), Nagle on' },
  msgmore: { label: 'MSG_MORE', how: 'send(header, MSG_MORE) then send(body), Nagle on' },
  cork: { label: 'TCP_CORK', how: 'TCP_CORK on, two send() calls, TCP_CORK off, Nagle on' },
  quickack: { label: 'TCP_QUICKACK (receiver)', how: 'two send() calls, Nagle on; the receiver sets TCP_QUICKACK after every recv()' },
};

function sockfdServer(args: readonly string[]): void {
  const mode = choiceArg(args, 0, 'MODE', modes);
  const listener = listenAnnounced();
  const { fd } = posix.accept(listener);
  const request = Buffer.alloc(HEADER + BODY);
  const reply = Buffer.alloc(REPLY, 'r');
  for (;;) {
    let got = 0;
    while (got < request.length) {
      const n = posix.recv(fd, request, 0, got, request.length - got);
      if (n === 0) {
        if (got !== 0) throw new Error('client closed inside a request');
        posix.close(fd);
        posix.close(listener);
        return;
      }
      got += n;
      // Quick-ack mode ends by itself, so it is asked for again after every read.
      if (mode === 'quickack') posix.setsockopt(fd, posix.IPPROTO_TCP, posix.TCP_QUICKACK, 1);
    }
    sendAll(fd, reply);
  }
}

function sockfdClient(args: readonly string[]): void {
  const port = intArg(args, 0, 'PORT');
  const mode = choiceArg(args, 1, 'MODE', modes);
  const rounds = intArg(args, 2, 'ROUNDS');
  const warmup = intArg(args, 3, 'WARMUP');
  const fd = connectLoopback(port);
  if (mode === 'nodelay') posix.setsockopt(fd, posix.IPPROTO_TCP, posix.TCP_NODELAY, 1);
  const header = Buffer.alloc(HEADER, 'h');
  const body = Buffer.alloc(BODY, 'b');
  const parts = [header, body];
  const reply = Buffer.alloc(REPLY);
  const samples = new Float64Array(rounds);
  for (let i = -warmup; i < rounds; i++) {
    const start = nowNs();
    switch (mode) {
      case 'writev': {
        const n = posix.writev(fd, parts);
        if (n !== HEADER + BODY) throw new Error(`writev: short write ${n}`);
        break;
      }
      case 'msgmore':
        sendAll(fd, header, { flags: posix.MSG_MORE });
        sendAll(fd, body);
        break;
      case 'cork':
        posix.setsockopt(fd, posix.IPPROTO_TCP, posix.TCP_CORK, 1);
        sendAll(fd, header);
        sendAll(fd, body);
        posix.setsockopt(fd, posix.IPPROTO_TCP, posix.TCP_CORK, 0);
        break;
      default:
        sendAll(fd, header);
        sendAll(fd, body);
    }
    if (!recvAll(fd, reply)) throw new Error('server closed early');
    if (i >= 0) samples[i] = nowNs() - start;
  }
  posix.close(fd);
  printResult({ samples_ns: Array.from(samples, Math.round) });
}

/** Rounds per run: Nagle on costs ~40 ms a round, so it gets fewer (still 200 in all by default). */
function roundsFor(mode: Mode, context: BenchContext): { rounds: number; runs: number; warmup: number } {
  if (mode === 'nagle')
    return bySize(context, { full: { rounds: 50, runs: 4, warmup: 5 }, quick: { rounds: 10, runs: 1, warmup: 2 }, smoke: { rounds: 3, runs: 1, warmup: 1 } });
  return bySize(context, { full: { rounds: 500, runs: 4, warmup: 100 }, quick: { rounds: 200, runs: 1, warmup: 50 }, smoke: { rounds: 20, runs: 1, warmup: 5 } });
}

async function run(context: BenchContext) {
  const cases: CaseResult[] = [];
  const parameters: Record<string, string | number> = {};
  for (const mode of modes) {
    const { rounds, runs, warmup } = roundsFor(mode, context);
    parameters[`${mode}`] = `${runs} runs x ${rounds} rounds (+${warmup} untimed)`;
    const runOnce = (impl: string, warm: boolean): Promise<RunOutput> => {
      const count = warm ? warmup : rounds;
      if (impl === 'C') return pairRun(context, context.c(NAME, 'server', mode), (port) => context.c(NAME, 'client', port, mode, count, warmup));
      return pairRun(context, context.node(NAME, 'sockfd-server', [mode]), (port) => context.node(NAME, 'sockfd-client', [port, mode, count, warmup]));
    };
    cases.push(await measureCase(context, { name: modeInfo[mode].label, kind: 'latency', impls: ['C', 'sockfd'], note: modeInfo[mode].how }, { runs, runOnce, warmupRun: !context.quick }));
  }
  return {
    title: 'nagle: a 4-byte header and a 20-byte body as two writes, an 8-byte reply',
    description:
      'Request = two small writes (4-byte header, 20-byte body), reply = 8 bytes, one connection per mode and run. With Nagle on, ' +
      'the body is held until the header is acknowledged, and the receiver delays that ACK (delayed ACK: it waits up to ~40 ms for ' +
      'data to piggyback it on, but the reply needs the body first): each round costs ~40 ms. TCP_NODELAY sends the body at once ' +
      '(two segments); one writev(), MSG_MORE or TCP_CORK put both pieces into one segment; TCP_QUICKACK on the receiver removes ' +
      'the delayed ACK instead. C and sockfd run the same code in each mode.',
    parameters,
    cases,
    notes: [],
  };
}

export const benchmark: Benchmark = {
  name: NAME,
  summary: 'two small writes + reply: Nagle on, TCP_NODELAY, writev, MSG_MORE, TCP_CORK, TCP_QUICKACK (C vs sockfd)',
  cPrograms: [NAME],
  peers: { 'sockfd-server': sockfdServer, 'sockfd-client': sockfdClient },
  run,
};
