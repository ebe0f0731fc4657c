// `sockfd trace`: every TCP segment, tcpdump-style, with both ends' states,
// captured with sockfd's own AF_PACKET sockets.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { type Command, UsageError } from '../command.js';
import { capture } from '../../tools/lab/trace.js';
import { type TraceRecord, recordJson, recordLine } from '../../tools/lab/trace-format.js';
import { renderSvg } from '../../tools/lab/svg.js';
import { LabError, labNames, wireInterface } from '../../tools/lab/namespaces.js';
import { isUp } from '../../tools/lab/lab.js';
import { readSettings } from '../../tools/lab/settings.js';
import { needsUserNamespace, runInUserNamespace } from '../../tools/lab/userns.js';
import { cliPath } from '../../tools/processes.js';

const usage = `usage: sockfd trace [--lab | --interface IF] [--port N] [--count N] [--json] [--svg FILE] [--no-kernel]

Prints one line per TCP segment, in the spirit of tcpdump: the time since the
first, source > destination, the flags in tcpdump's letters (S, S., ., P., F.,
R), seq and ack relative to each side's initial sequence number, the window and
the payload length; beside it the TCP state of both ends after the segment
(SYN_SENT, SYN_RECV, ESTABLISHED, FIN_WAIT1, FIN_WAIT2, CLOSE_WAIT, LAST_ACK,
TIME_WAIT, CLOSED), and the gaps that matter called out: an ACK held back
~40 ms (delayed ACK), data held back until it came (Nagle), a retransmission,
a segment the lab's wire dropped.

The states are derived from the segments; as root, each transition is also
checked against the kernel's own tracepoint sock:inet_sock_set_state (marked *).

options:
      --lab          capture on the lab's wire (sockfd lab up): each segment
                     once, with when it left and when it arrived
  -i, --interface IF capture on IF in this network namespace (default lo)
  -p, --port N       only segments to or from port N
  -c, --count N      stop after N segments (otherwise Ctrl+C stops)
      --json         one JSON object per line and segment: time (s), src, dst
                     ("ip:port"), flags, seq, ack, win, len, states, notes
      --svg FILE     at the end, draw the exchange as the tutorial draws the
                     handshake: two lifelines, one arrow per segment
      --no-kernel    do not read the kernel tracepoint

Capturing needs CAP_NET_RAW (root). Exit status: 0, 1 on failure, 2 on a usage error.`;

async function inLab(argv: string[]): Promise<number> {
  const names = labNames();
  if (needsUserNamespace()) return runInUserNamespace(names.prefix, ['trace', ...argv], 'use');
  if (!isUp(names)) throw new LabError("the lab is not up (run 'sockfd lab up')");
  const child = spawn('ip', ['netns', 'exec', names.namespace.wire, process.execPath, cliPath, 'trace', ...argv], {
    stdio: 'inherit',
    env: { ...process.env, SOCKFD_TRACE_IN_WIRE: names.prefix },
  });
  // Ctrl+C reaches the capture itself (same process group); a signal sent to us alone is passed on.
  const forward = (signal: NodeJS.Signals) => (): void => void child.kill(signal);
  const handlers = (['SIGINT', 'SIGTERM', 'SIGHUP'] as const).map((signal) => [signal, forward(signal)] as const);
  for (const [signal, handler] of handlers) process.on(signal, handler);
  try {
    return await new Promise<number>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (code, signal) => resolve(code ?? (signal === 'SIGINT' ? 130 : 1)));
    });
  } finally {
    for (const [signal, handler] of handlers) process.off(signal, handler);
  }
}

function positiveInteger(text: string | undefined, what: string, max: number): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1 || value > max) throw new UsageError(`${what} must be 1..${max}, got '${text}'`);
  return value;
}

async function run(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        lab: { type: 'boolean' },
        interface: { type: 'string', short: 'i' },
        port: { type: 'string', short: 'p' },
        count: { type: 'string', short: 'c' },
        json: { type: 'boolean' },
        svg: { type: 'string' },
        'no-kernel': { type: 'boolean' },
      },
      allowPositionals: true,
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (positionals.length) throw new UsageError(`unexpected argument '${positionals[0]}'`);
  if (values.lab && values.interface !== undefined) throw new UsageError('--lab and --interface exclude each other');
  const port = positiveInteger(values.port, '--port', 65535);
  const count = positiveInteger(values.count, '--count', 10_000_000);
  try {
    const insideWire = process.env.SOCKFD_TRACE_IN_WIRE !== undefined;
    if (values.lab && !insideWire) return await inLab(argv);
    let dropAfterMs = 1000;
    if (values.lab) {
      try {
        const settings = readSettings(labNames());
        dropAfterMs = settings.delayMs + settings.jitterMs + 150 + (settings.rateBitsPerSecond > 0 ? 500 : 0);
      } catch {
        // no settings: the default
      }
    }
    const records: TraceRecord[] = [];
    let statesFrom = 'states: derived from the segments';
    let stopped = false;
    const stop = (): void => {
      stopped = true;
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    const where = values.lab ? `the lab's wire (${wireInterface['132']} and ${wireInterface['133']})` : (values.interface ?? 'lo');
    const total = await capture({
      lab: values.lab ?? false,
      ...(values.interface !== undefined && { interface: values.interface }),
      ...(port !== undefined && { port }),
      ...(count !== undefined && { count }),
      dropAfterMs,
      kernelStates: !values['no-kernel'],
      stopped: () => stopped,
      onStatesSource(text) {
        statesFrom = text;
        process.stderr.write(`listening on ${where}${port !== undefined ? `, port ${port}` : ''}; ${text}\n`);
      },
      onRecord(record) {
        records.push(record);
        process.stdout.write((values.json ? JSON.stringify(recordJson(record)) : recordLine(record)) + '\n');
      },
    });
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    process.stderr.write(`${total} segment${total === 1 ? '' : 's'} captured\n`);
    if (values.svg !== undefined) {
      writeFileSync(values.svg, renderSvg(records, { statesFrom: statesFrom.startsWith('states: derived from the segments and checked') ? 'states: derived from the segments, checked against the kernel (sock:inet_sock_set_state)' : statesFrom, title: `sockfd trace on ${where}` }));
      process.stderr.write(`picture: ${values.svg}\n`);
    }
    return 0;
  } catch (error) {
    if (error instanceof LabError || (error instanceof Error && 'syscall' in error) || (error instanceof Error && error.message.startsWith('no interface'))) {
      process.stderr.write(`sockfd trace: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
}

export const command: Command = {
  name: 'trace',
  summary: 'every TCP segment, tcpdump-style, with the TCP states of both ends (--svg draws them)',
  usage,
  run,
};
