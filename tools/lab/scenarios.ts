// `sockfd lab scenario <name>`: one lesson of the tutorial across the lab.
// Each scenario sets the wire, starts `sockfd trace --lab`, runs the twins
// (or the C programs) on 132 and 133, shows every segment with both ends'
// states, and says in a few lines — the tutorial's where it has them — what
// just happened. It checks that the kernel did what the lesson says and
// exits 0 only then. A lab that was not up is made for the run and removed.
import { execFileSync } from 'node:child_process';
import { cProgram } from '../c-programs.js';
import { Running, cliPath } from '../processes.js';
import { UsageError } from '../usage-error.js';
import { type LabNames, type Place, hostAddress } from './namespaces.js';
import { isUp, labDown, labSet, labUp } from './lab.js';
import { type WireSettings, defaultSettings, readSettings, withDropRule } from './settings.js';
import { type TraceRecord, recordLine } from './trace-format.js';
import { TCP_ACK, TCP_FIN, TCP_SYN, TCP_RST } from './packet.js';

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const PORT = 5005;

export const scenarioNames = ['handshake', 'close', 'time-wait', 'backlog', 'nagle', 'refused', 'loss'] as const;
export type ScenarioName = (typeof scenarioNames)[number];

/** What one scenario run gives back (the tour and the tests read it). */
export interface ScenarioResult {
  name: ScenarioName;
  ok: boolean;
  records: TraceRecord[];
  checks: { ok: boolean; text: string }[];
  /** Output of the programs, by place. */
  output: Partial<Record<Place, string>>;
}

/** One run: the processes it started (stopped at the end, by pid) and what it printed. */
class Run {
  readonly started: Running[] = [];
  readonly checks: { ok: boolean; text: string }[] = [];
  readonly output: Partial<Record<Place, string>> = {};
  #trace: Running | undefined;
  /** 5005, or the next port no socket on either host uses (a TIME_WAIT of an earlier run holds it for 60 s). */
  port = PORT;

  constructor(readonly names: LabNames, readonly say: (text: string) => void) {}

  choosePort(): void {
    const busy = (port: number): boolean =>
      (['132', '133'] as const).some((place) =>
        execFileSync('ip', ['netns', 'exec', this.names.namespace[place], 'ss', '-tanH', `( sport = :${port} or dport = :${port} )`], { encoding: 'utf8' }).trim() !== '');
    for (let port = PORT; port < PORT + 50; port++) {
      if (!busy(port)) {
        if (port !== PORT) this.say(`  (port ${PORT} is still in use on the lab, by a TIME_WAIT of an earlier run perhaps: this run uses ${port})`);
        this.port = port;
        return;
      }
    }
    throw new Error(`ports ${PORT}..${PORT + 49} are all in use on the lab`);
  }

  /** Runs `program args...` on a host; `sockfd` is this package's CLI. */
  start(place: Place, program: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): Running {
    const argv = program === 'sockfd' ? [process.execPath, cliPath, ...args] : [program, ...args];
    this.say(`  [${place}] $ ${program === 'sockfd' ? 'sockfd' : program.replace(/^.*\//, './')} ${args.join(' ')}`);
    const running = new Running('ip', ['netns', 'exec', this.names.namespace[place], ...argv], { env: { ...process.env, ...env } });
    this.started.push(running);
    return running;
  }

  async finish(place: Place, running: Running, timeoutMs = 20_000): Promise<string> {
    const done = await running.end(timeoutMs);
    const text = done.stdout + done.stderr;
    this.output[place] = (this.output[place] ?? '') + text;
    for (const line of text.split('\n').filter(Boolean).slice(0, 12)) this.say(`      ${line}`);
    return text;
  }

  /** `ss -tan` on a host, lines for the port. */
  ss(place: Place): string[] {
    const text = execFileSync('ip', ['netns', 'exec', this.names.namespace[place], 'ss', '-tanH', `( sport = :${this.port} or dport = :${this.port} )`], { encoding: 'utf8' });
    return text.split('\n').filter((line) => line.trim() !== '').map((line) => line.trim().replace(/\s+/g, ' '));
  }

  showSs(place: Place): string[] {
    const lines = this.ss(place);
    this.say(`  [${place}] $ ss -tan '( sport = :${this.port} or dport = :${this.port} )'`);
    for (const line of lines.length ? lines : ['(none)']) this.say(`      ${line}`);
    return lines;
  }

  async startTrace(): Promise<void> {
    const trace = new Running(process.execPath, [cliPath, 'trace', '--lab', '--port', String(this.port), '--json'], { env: { ...process.env, SOCKFD_LAB_PREFIX: this.names.prefix } });
    this.started.push(trace);
    const deadline = Date.now() + 15_000;
    while (!/listening on/.test(trace.stderr)) {
      if (!trace.running || Date.now() > deadline) throw new Error(`sockfd trace did not start:\n${trace.stderr}`);
      await pause(20);
    }
    this.#trace = trace;
  }

  /** Stops the trace (as Ctrl+C does) and shows its lines. */
  async stopTrace(): Promise<TraceRecord[]> {
    const trace = this.#trace;
    if (!trace) return [];
    await pause(300); // the last segments' flight through the wire (bounded: the trace reports what it has)
    trace.stop('SIGINT');
    const done = await trace.end(10_000);
    const records = done.stdout
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as TraceRecord);
    const source = /states: [^\n]*/.exec(done.stderr)?.[0];
    this.say('');
    this.say(`  $ sockfd trace --lab --port ${this.port}`);
    if (source) this.say(`      (${source})`);
    for (const record of records) this.say(`      ${recordLine({ ...record, flagBits: 0 }).replace(/\s+$/, '')}`);
    return records;
  }

  check(ok: boolean, text: string): void {
    this.checks.push({ ok, text });
    this.say(`  ${ok ? '✓' : '✗'} ${text}`);
  }

  /** Stops what is still running: SIGTERM (a trace passes it on to its capture), SIGKILL after 3 s. */
  async stopAll(): Promise<void> {
    const left = this.started.filter((running) => running.running);
    for (const running of left) running.stop('SIGTERM');
    await Promise.all(left.map((running) => running.end(3000)));
  }
}

const bits = (record: TraceRecord): number => {
  let value = 0;
  if (record.flags.includes('S')) value |= TCP_SYN;
  if (record.flags.includes('F')) value |= TCP_FIN;
  if (record.flags.includes('R')) value |= TCP_RST;
  if (record.flags.includes('.')) value |= TCP_ACK;
  return value;
};

const client = hostAddress['133'];
const server = hostAddress['132'];

type Body = (run: Run) => Promise<TraceRecord[]>;

const explain = (run: Run, lines: string[]): void => {
  run.say('');
  for (const line of lines) run.say(`  ${line}`);
};

/** demo2 on 132, demo1 on 133 (one round trip apart), traced. */
async function clientServer(run: Run, clientArgs: string[] = []): Promise<TraceRecord[]> {
  await run.startTrace();
  const serverRun = run.start('132', 'sockfd', ['demo', 'server', String(run.port)]);
  await waitListening(run, '132');
  const clientRun = run.start('133', 'sockfd', ['demo', 'client', server, String(run.port), '--sleep-ms', '100', ...clientArgs]);
  await run.finish('133', clientRun);
  await run.finish('132', serverRun);
  return run.stopTrace();
}

async function waitListening(run: Run, place: Place): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!run.ss(place).some((line) => line.startsWith('LISTEN'))) {
    if (Date.now() > deadline) throw new Error(`nothing listens on ${place}:${run.port}`);
    await pause(20);
  }
}

const scenarios: Record<ScenarioName, { title: string; settings: Partial<WireSettings>; body: Body }> = {
  handshake: {
    title: '三次握手 — the three-way handshake, across a wire with 10 ms each way',
    settings: { delayMs: 10 },
    async body(run) {
      const records = await clientServer(run);
      const [syn, synAck, ack] = records;
      run.check(syn?.flags === 'S' && syn.src.startsWith(client), `the client (133) sent SYN first: ${syn ? `${syn.src} > ${syn.dst} [${syn.flags}]` : 'nothing'}`);
      run.check(synAck?.flags === 'S.' && synAck.src.startsWith(server), 'the server (132) answered SYN, ACK');
      run.check(ack?.flags === '.' && ack.src.startsWith(client) && Object.values(ack.states).every((s) => s === 'ESTABLISHED'), 'the client\'s ACK made both ends ESTABLISHED');
      explain(run, [
        'connect() on 133 sent SYN (SYN_SENT); 132, listening, answered SYN, ACK (SYN_RECV);',
        "133's ACK completed the handshake: ESTABLISHED on both sides. In the tutorial's words:",
        '  1、客户端对服务端说：我可以给你发送数据吗？',
        '  2、服务端回复：ok，不过，我也要给你发送数据。（这时候，客户端至服务端的单向传输通道已建立）',
        '  3、客户端回复：ok。（这时候，服务端至客户端的单向传输通道已建立）',
        'The round trip (SYN to SYN, ACK at the client) is twice the wire\'s 10 ms.',
      ]);
      return records;
    },
  },
  close: {
    title: '四次挥手 — the four-way close (the client closes first)',
    settings: { delayMs: 10 },
    async body(run) {
      const records = await clientServer(run);
      // A FIN sent again (its sender's timer ran out: a loaded machine can
      // hold the wire past TCP's 200 ms minimum) is the same FIN: one per
      // sender and sequence number.
      const finSegments = records.filter((r) => bits(r) & TCP_FIN);
      const fins = finSegments.filter((r, i) => finSegments.findIndex((o) => o.src === r.src && o.seq === r.seq) === i);
      const firstFin = fins[0];
      const sentAgain = finSegments.length - fins.length;
      run.check(
        fins.length === 2 && firstFin !== undefined && firstFin.src.startsWith(client),
        `two FINs, the first from the client (133): ${fins.map((f) => `${f.src} [${f.flags}]`).join(', ')}${sentAgain > 0 ? ` (and ${sentAgain} sent again)` : ''}`,
      );
      const lines = run.showSs('133');
      run.check(lines.some((line) => line.startsWith('TIME-WAIT')), 'the client, which closed first, is in TIME_WAIT (ss on 133)');
      explain(run, [
        'demo1 ended and its close() sent FIN (FIN_WAIT1); demo2 ACKed it (CLOSE_WAIT on 132, FIN_WAIT2 on 133),',
        'saw recv() return 0, closed, and sent its own FIN (LAST_ACK); 133 ACKed it and went to TIME_WAIT.',
        '  1、一端（A）对另一端（B）说：我不会给你发数据了，断开连接吧。',
        '  2、B回复：ok。（这时候A不能对B发数据了，但是，B仍可以对A发数据）',
        '  3、B发完数据了，对A说：我也不会给你发数据了。（这时候B也不能对A发数据了）。',
        '  4、A回复：ok。',
        '主动断开的端在四次挥手后，socket的状态为TIME_WAIT，该状态将持续2MSL (60 s on Linux).',
      ]);
      return records;
    },
  },
  'time-wait': {
    title: 'TIME_WAIT on the server: it closes first, and a restart cannot bind',
    settings: { delayMs: 5 },
    async body(run) {
      const serverPath = await cProgram('timewait-server');
      await run.startTrace();
      const serverRun = run.start('132', serverPath, [String(run.port)]);
      await waitListening(run, '132');
      // The client says nothing: it sees the server's FIN, and closes 300 ms later.
      const clientRun = run.start('133', 'sockfd', ['lab', 'peer', 'hold-connect', server, String(run.port), '300']);
      await run.finish('132', serverRun);
      await run.finish('133', clientRun);
      await pause(100);
      const records = await run.stopTrace();
      const firstFin = records.find((r) => bits(r) & TCP_FIN);
      run.check(firstFin !== undefined && firstFin.src.startsWith(server), 'the server (132) sent the first FIN');
      const lines = run.showSs('132');
      run.check(lines.some((line) => line.startsWith('TIME-WAIT') && line.includes(`${server}:${run.port}`)), `132 holds ${server}:${run.port} in TIME_WAIT`);
      const again = run.start('132', serverPath, [String(run.port)]);
      const text = await run.finish('132', again, 5000);
      run.check(/bind: Address already in use/.test(text), 'restarting the server on 132: bind: Address already in use');
      explain(run, [
        '如果是服务端主动断开，有两方面的危害：socket没有立即释放；端口号只能在2MSL后才能重用。',
        'The fix is SO_REUSEADDR before bind() (sockfd demo time-wait --reuseaddr shows it).',
      ]);
      return records;
    },
  },
  backlog: {
    title: 'listen(fd, 3) and SYN_RECV — the accept queue and a half-open connection',
    settings: { delayMs: 5 },
    async body(run) {
      const serverPath = await cProgram('backlog-server');
      await run.startTrace();
      const serverRun = run.start('132', serverPath, [String(run.port)], { SOCKFD_SLEEP_SCALE: '0.0001' });
      await waitListening(run, '132');
      const clients = run.start('133', 'sockfd', ['lab', 'peer', 'connect-many', server, String(run.port), '6', '1500']);
      await clients.waitFor(/connects started/);
      await pause(400);
      const serverLines = run.showSs('132');
      run.showSs('133');
      const established = serverLines.filter((line) => line.startsWith('ESTAB')).length;
      run.check(established === 4, `132: listen(…, 3) lets 3+1 = 4 connections complete the handshake (ESTABLISHED, not accepted): ${established}`);
      await run.finish('133', clients);
      serverRun.stop('SIGTERM');
      await run.finish('132', serverRun);
      // A half-open connection: the wire drops the handshake's final ACK.
      await labSet(run.names, (s) => withDropRule(s, { count: 1, flags: '.', from: '133', data: false }));
      run.say('');
      run.say('  $ sockfd lab set --drop 1 --flags . --from 133 --no-data     (drop the final ACK of the next handshake)');
      const demo2 = run.start('132', 'sockfd', ['demo', 'server', String(run.port)]);
      await waitListening(run, '132');
      const half = run.start('133', 'sockfd', ['lab', 'peer', 'hold-connect', server, String(run.port), '2500']);
      await half.waitFor(/connected/);
      await pause(150);
      const halfLines = run.showSs('132');
      run.check(halfLines.some((line) => line.startsWith('SYN-RECV')), '132 shows the connection in SYN_RECV (半连接): its SYN, ACK was never answered');
      await run.finish('133', half);
      demo2.stop('SIGTERM');
      await run.finish('132', demo2);
      const records = await run.stopTrace();
      explain(run, [
        'listen()函数的第二个参数+1为已连接队列的大小（ESTABLISHED状态，三次握手已完成但是没有被accept()的socket）。',
        'The other clients: this kernel (since 4.10) drops their SYN while the queue is full, so they wait in',
        'SYN_SENT on 133 and retry; the tutorial\'s 3.10 kernel showed them as SYN_RECV on the server.',
        'SYN_RECV状态的连接也称为半连接: here made by the wire, which dropped the final ACK; 132 retransmits',
        'its SYN, ACK (after 1 s) and the client\'s new ACK completes the connection.',
      ]);
      return records;
    },
  },
  nagle: {
    title: 'Nagle and the delayed ACK — the ~40 ms stall, across a wire with 2 ms each way',
    settings: { delayMs: 2 },
    async body(run) {
      await run.startTrace();
      const serverRun = run.start('132', 'sockfd', ['lab', 'peer', 'nagle-server', String(run.port)]);
      await waitListening(run, '132');
      const clientRun = run.start('133', 'sockfd', ['lab', 'peer', 'nagle-client', server, String(run.port), '24']);
      await run.finish('133', clientRun);
      await run.finish('132', serverRun);
      const records = await run.stopTrace();
      const delayed = records.filter((r) => r.notes.some((n) => n.startsWith('delayed ACK')));
      const worst = Math.max(0, ...delayed.map((r) => r.ackDelayMs ?? 0));
      run.check(delayed.length > 0 && worst >= 30, `the server delayed its ACK: ${delayed.length} delayed ACK${delayed.length === 1 ? '' : 's'}, the longest ${worst.toFixed(1)} ms`);
      explain(run, [
        'Each request is two small send()s. Nagle: 任意时刻，最多只能有一个未被确认的小段 — the body waits for the',
        'ACK of the header; the server delays that ACK: 当接收端收到数据之后，并不会马上向发送端回复ACK，而是延迟40ms后再回复.',
        'So 这个正要被发送的包就会延迟40ms. The fix: setsockopt(TCP_NODELAY) (sockfd demo nagle compares both).',
        '(Linux ACKs the first segments of a connection at once — quick ACK mode — so the first rounds do not stall.)',
      ]);
      return records;
    },
  },
  refused: {
    title: 'connect() to a port nobody listens on: RST, Connection refused',
    settings: { delayMs: 5 },
    async body(run) {
      await run.startTrace();
      const clientRun = run.start('133', 'sockfd', ['demo', 'client', server, String(run.port)]);
      const text = await run.finish('133', clientRun);
      const records = await run.stopTrace();
      run.check(records[0]?.flags === 'S' && records[1]?.flags.startsWith('R') === true, `the SYN was answered with RST: ${records.map((r) => `[${r.flags}]`).join(' ')}`);
      run.check(/refused/i.test(text), 'demo1 reports the refused connect');
      explain(run, [
        'Nothing on 132 listens on 5005, so its kernel answers the SYN with RST (reset); connect() fails',
        'with ECONNREFUSED. Both ends are CLOSED again: no connection was ever made.',
      ]);
      return records;
    },
  },
  loss: {
    title: 'A lost segment and its retransmission',
    settings: { delayMs: 5 },
    async body(run) {
      await labSet(run.names, (s) => withDropRule(s, { count: 1, flags: 'P.', from: '133', data: true }));
      run.say('  $ sockfd lab set --drop 1 --flags P. --from 133 --data     (drop the client\'s first data segment)');
      const records = await clientServer(run);
      const dropped = records.find((r) => r.dropped);
      const resent = records.find((r) => r.retransmission);
      run.check(dropped !== undefined, `the wire dropped ${dropped ? `${dropped.src} > ${dropped.dst} [${dropped.flags}] seq ${dropped.seq} length ${dropped.len}` : 'nothing'}`);
      run.check(resent !== undefined && dropped !== undefined && resent.seq === dropped.seq, `the client sent it again${resent && dropped ? `, ${((resent.time - dropped.time) * 1000).toFixed(0)} ms later` : ''}`);
      explain(run, [
        'The first request never reached 132, so no ACK came back; when its retransmission timer ran out',
        '(about 200 ms here; Linux waits at least that, or sends a tail-loss probe) the client sent the',
        'same bytes again, and the exchange went on:',
        'TCP is reliable because the sender keeps data until it is acknowledged.',
      ]);
      return records;
    },
  },
};

/** Runs one scenario, printing as it goes; the lab is made for it when it is not up. */
export async function scenario(names: LabNames, name: ScenarioName, say: (text: string) => void): Promise<ScenarioResult> {
  const made = !isUp(names);
  if (made) await labUp(names, {});
  const before: WireSettings = readSettings(names);
  const entry = scenarios[name];
  const run = new Run(names, say);
  say(`== ${entry.title}`);
  let records: TraceRecord[] = [];
  // Ctrl+C or SIGTERM: stop what the run started, remove a lab made for it, exit 128+signal.
  const interrupted = (signal: NodeJS.Signals, code: number) => (): void => {
    say(`  (${signal}: stopping)`);
    void (async () => {
      await run.stopAll();
      if (made) await labDown(names);
      process.exit(code);
    })();
  };
  const onInt = interrupted('SIGINT', 130);
  const onTerm = interrupted('SIGTERM', 143);
  process.once('SIGINT', onInt);
  process.once('SIGTERM', onTerm);
  try {
    await labSet(names, (s) => ({ ...s, ...defaultSettings, ...entry.settings, drops: [] }));
    run.choosePort();
    records = await entry.body(run);
  } catch (error) {
    run.check(false, (error as Error).message.split('\n')[0]!);
  } finally {
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
    await run.stopAll();
    if (made) await labDown(names);
    else await labSet(names, () => ({ ...before, drops: [] })).catch(() => undefined);
  }
  return { name, ok: run.checks.length > 0 && run.checks.every((c) => c.ok), records, checks: run.checks, output: run.output };
}

/** `sockfd lab scenario <name>` */
export async function runScenario(names: LabNames, argv: string[]): Promise<number> {
  const name = argv[0] as ScenarioName | undefined;
  if (name === undefined || !scenarioNames.includes(name)) throw new UsageError(`scenario needs one of: ${scenarioNames.join(', ')}`);
  if (argv.length > 1) throw new UsageError(`unexpected argument '${argv[1]}'`);
  const result = await scenario(names, name, (text) => void process.stdout.write(text + '\n'));
  return result.ok ? 0 : 1;
}
