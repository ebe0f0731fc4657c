// `sockfd lab`: the tutorial's two machines (192.168.28.132 and .133) and
// the wire between them, each a network namespace, the wire a sockfd program.
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import { type Command, UsageError } from '../command.js';
import { type LabNames, type Place, LabError, labNames, hostNames, type HostName } from '../../tools/lab/namespaces.js';
import { execArgv, labDown, labSet, labStatus, labUp, labUnavailable } from '../../tools/lab/lab.js';
import {
  type DropRule, type WireSettings, describeRule, describeSettings, parseNumber, parseRate, withDropRule,
} from '../../tools/lab/settings.js';
import { parseFlagLetters } from '../../tools/lab/packet.js';
import { type KeeperMode, needsUserNamespace, runInUserNamespace } from '../../tools/lab/userns.js';

const usage = `usage: sockfd lab up [--delay MS] [--jitter MS] [--loss PCT] [--rate RATE]
       sockfd lab exec <132|133|wire> -- <command> [args...]
       sockfd lab status [--json]
       sockfd lab set [--delay MS] [--jitter MS] [--loss PCT] [--rate RATE|none]
                      [--drop N [--flags F] [--from 132|133] [--data|--no-data]] [--clear-drops]
       sockfd lab scenario <handshake|close|time-wait|backlog|nagle|refused|loss>
       sockfd lab down

The tutorial's two machines on this one: host 132 (192.168.28.132/24) and host
133 (192.168.28.133/24), each a network namespace with lo and eth0, joined
through a third namespace, the wire. The wire is a sockfd program on two
AF_PACKET sockets that moves every frame between them and applies a delay,
jitter, loss and a rate. 192.168.28.0/24 exists only inside the lab, which has
no route out. Every program runs on the hosts unchanged:

  sockfd lab exec 132 -- sockfd demo server 5005
  sockfd lab exec 133 -- sockfd demo client 192.168.28.132 5005
  sockfd lab exec 132 -- sockfd netstat -t
  sockfd trace --lab --port 5005          (every segment, both ends' states)

options of up and set:
  --delay MS        one-way delay of every frame (a round trip is twice it)
  --jitter MS       ± MS around the delay, uniform (frames keep their order)
  --loss PCT        drop this share of IPv4 frames at random (ARP is spared)
  --rate RATE       bandwidth per direction: 10mbit, 512kbit, 1gbit, 100kbps
                    (bytes/s); 'none' removes the limit

teaching rules (set): drop the next N TCP segments that match
  --drop N          how many (each matching segment counts one down)
  --flags F         tcpdump's letters, exactly: S, S., ., P., F., R
  --from 132|133    only segments sent by that host
  --data/--no-data  only segments with / without payload
  --clear-drops     remove all rules
  e.g. drop the handshake's final ACK, and 132 shows SYN_RECV:
       sockfd lab set --drop 1 --flags . --from 133 --no-data

up on an existing lab says so and keeps it. down stops every process in the
lab's namespaces and removes them and the lab's bookkeeping, also after a
crash. SOCKFD_LAB_PREFIX (default sockfd-) prefixes the namespaces' names.
Needs root (or a user namespace where you are root). Exit status: 0, 1 on
failure, 2 on a usage error; exec exits with its command's status.`;

const settingOptions = {
  delay: { type: 'string' },
  jitter: { type: 'string' },
  loss: { type: 'string' },
  rate: { type: 'string' },
} as const;

function settingsFrom(values: { delay?: string; jitter?: string; loss?: string; rate?: string }, base: WireSettings | undefined): Partial<WireSettings> {
  try {
    const out: Partial<WireSettings> = {};
    if (values.delay !== undefined) out.delayMs = parseNumber(values.delay, '--delay', 60_000);
    if (values.jitter !== undefined) out.jitterMs = parseNumber(values.jitter, '--jitter', 60_000);
    if (values.loss !== undefined) out.lossPercent = parseNumber(values.loss, '--loss', 100);
    if (values.rate !== undefined) out.rateBitsPerSecond = values.rate === 'none' || values.rate === '0' ? 0 : parseRate(values.rate);
    const jitter = out.jitterMs ?? base?.jitterMs ?? 0;
    const delay = out.delayMs ?? base?.delayMs ?? 0;
    if (jitter > delay) throw new RangeError(`--jitter (${jitter} ms) cannot be more than --delay (${delay} ms)`);
    return out;
  } catch (error) {
    if (error instanceof RangeError) throw new UsageError(error.message);
    throw error;
  }
}

function printStatus(names: LabNames, json: boolean): number {
  const status = labStatus(names);
  if (json) {
    process.stdout.write(JSON.stringify(status, null, 2) + '\n');
    return 0;
  }
  const say = (text: string): void => void process.stdout.write(text + '\n');
  if (Object.keys(status.namespaces).length === 0) {
    say("the lab is down (sockfd lab up creates it)");
    return 0;
  }
  say(status.up ? 'the lab is up' : 'the lab is incomplete (remains of a crash? sockfd lab down removes them)');
  for (const place of ['132', '133', 'wire'] as const) {
    const ns = status.namespaces[place];
    if (!ns) continue;
    say(`  ${place.padEnd(4)} netns ${ns}`);
    for (const line of status.interfaces[place] ?? []) say(`         ${line}`);
  }
  const wire = status.wire;
  if (wire) {
    say(`  wire: pid ${wire.pid}${wire.running ? '' : ' (not running)'}; ${describeSettings(wire.settings, wire.counters?.remaining)}`);
    for (const [direction, c] of Object.entries(wire.counters?.directions ?? {}))
      say(`    ${direction}: ${c.frames} frames in (${c.bytes} bytes), ${c.delivered} delivered, ${c.lost} lost, ${c.ruleDrops} dropped by rules, ${c.queueDrops} queue drops, ${c.overruns ?? 0} overruns`);
    for (const drop of wire.counters?.recentDrops.slice(-5) ?? []) say(`    dropped by rule ${drop.rule}: ${drop.summary}`);
  }
  return 0;
}

async function exec(names: LabNames, argv: string[]): Promise<number> {
  const place = argv[0];
  if (place !== '132' && place !== '133' && place !== 'wire') throw new UsageError(`exec needs a place: 132, 133 or wire${place ? `, got '${place}'` : ''}`);
  const rest = argv[1] === '--' ? argv.slice(2) : argv.slice(1);
  if (rest.length === 0) throw new UsageError('exec needs a command after --');
  const unavailable = labUnavailable();
  if (unavailable) throw new LabError(unavailable);
  if (!labStatus(names).namespaces[place as Place]) throw new LabError("the lab is not up (run 'sockfd lab up')");
  const [file, args] = execArgv(names, place as Place, rest[0]!, rest.slice(1));
  const child = spawn(file, args, { stdio: 'inherit' });
  // The terminal's Ctrl+C reaches the command itself (same process group); we wait for it.
  const ignore = (): void => {};
  const forward = (signal: NodeJS.Signals) => (): void => void child.kill(signal);
  process.on('SIGINT', ignore);
  const onTerm = forward('SIGTERM');
  const onHup = forward('SIGHUP');
  process.on('SIGTERM', onTerm);
  process.on('SIGHUP', onHup);
  try {
    return await new Promise<number>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (code, signal) => resolve(code ?? (signal ? 128 + (({ SIGINT: 2, SIGTERM: 15, SIGKILL: 9, SIGHUP: 1 } as Record<string, number>)[signal] ?? 1) : 1)));
    });
  } finally {
    process.off('SIGINT', ignore);
    process.off('SIGTERM', onTerm);
    process.off('SIGHUP', onHup);
  }
}

async function set(names: LabNames, argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      ...settingOptions,
      drop: { type: 'string' },
      flags: { type: 'string' },
      from: { type: 'string' },
      data: { type: 'boolean' },
      'no-data': { type: 'boolean' },
      'clear-drops': { type: 'boolean' },
    },
    allowPositionals: true,
  });
  if (positionals.length) throw new UsageError(`unexpected argument '${positionals[0]}'`);
  let rule: Omit<DropRule, 'id'> | undefined;
  if (values.drop !== undefined) {
    const count = Number(values.drop);
    if (!Number.isInteger(count) || count < 1 || count > 1_000_000) throw new UsageError(`--drop must be a count 1..1000000, got '${values.drop}'`);
    if (values.flags !== undefined && parseFlagLetters(values.flags) === undefined) throw new UsageError(`--flags takes tcpdump's letters (S, S., ., P., F., R), got '${values.flags}'`);
    if (values.from !== undefined && !hostNames.includes(values.from as HostName)) throw new UsageError(`--from must be 132 or 133, got '${values.from}'`);
    if (values.data && values['no-data']) throw new UsageError('--data and --no-data exclude each other');
    rule = { count, ...(values.flags !== undefined && { flags: values.flags }), ...(values.from !== undefined && { from: values.from as HostName }), ...(values.data ? { data: true } : values['no-data'] ? { data: false } : {}) };
  } else if (values.flags !== undefined || values.from !== undefined || values.data || values['no-data']) {
    throw new UsageError('--flags, --from and --data go with --drop N');
  }
  const current = labStatus(names).wire?.settings;
  const change = settingsFrom(values, current);
  if (Object.keys(change).length === 0 && !rule && !values['clear-drops']) throw new UsageError('set needs something to change');
  const next = await labSet(names, (settings) => {
    const changed = { ...settings, ...change, ...(values['clear-drops'] && { drops: [] }) };
    return rule ? withDropRule(changed, rule) : changed;
  });
  process.stdout.write(`wire: ${describeSettings(next)}\n`);
  if (rule) process.stdout.write(`the wire drops the next ${describeRule({ id: 0, ...rule })}\n`);
  return 0;
}

const keeperModes: Readonly<Record<string, KeeperMode>> = { up: 'start', down: 'stop', scenario: 'scoped', status: 'status', set: 'use', exec: 'use' };

async function run(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  const asksHelp = (word: string): boolean => word === '--help' || word === '-h';
  if (sub !== 'exec' && rest.some(asksHelp)) {
    process.stdout.write(usage + '\n');
    return 0;
  }
  let names: LabNames;
  try {
    names = labNames();
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  try {
    if (needsUserNamespace() && sub !== undefined && sub in keeperModes) {
      // Not root: the same command, as root in a user namespace of our own.
      return await runInUserNamespace(names.prefix, ['lab', ...argv], keeperModes[sub]!);
    }
    switch (sub) {
      case 'up': {
        const { values, positionals } = parseArgs({ args: rest, options: settingOptions, allowPositionals: true });
        if (positionals.length) throw new UsageError(`unexpected argument '${positionals[0]}'`);
        const result = await labUp(names, settingsFrom(values, undefined));
        if (!result.created) {
          process.stdout.write(`the lab is already up; kept it as it is (wire: ${describeSettings(result.settings)})\n`);
          if (Object.keys(settingsFrom(values, undefined)).length) process.stdout.write('to change the wire, use sockfd lab set\n');
          return 0;
        }
        process.stdout.write(
          [
            `lab up: host 132 (192.168.28.132 on eth0, netns ${names.namespace['132']}) <-> wire (netns ${names.namespace.wire}) <-> host 133 (192.168.28.133 on eth0, netns ${names.namespace['133']})`,
            `wire: ${describeSettings(result.settings)}`,
            `try:  sockfd lab exec 132 -- sockfd demo server 5005`,
            `      sockfd lab exec 133 -- sockfd demo client 192.168.28.132 5005`,
          ].join('\n') + '\n',
        );
        return 0;
      }
      case 'down': {
        if (rest.length) throw new UsageError(`unexpected argument '${rest[0]}'`);
        const result = await labDown(names);
        process.stdout.write(
          result.namespaces.length === 0 ? 'the lab was not up; nothing left behind\n' : `lab down: removed ${result.namespaces.join(', ')}${result.processes ? `, stopped ${result.processes} process${result.processes === 1 ? '' : 'es'}` : ''}\n`,
        );
        return 0;
      }
      case 'status': {
        const { values, positionals } = parseArgs({ args: rest, options: { json: { type: 'boolean' } }, allowPositionals: true });
        if (positionals.length) throw new UsageError(`unexpected argument '${positionals[0]}'`);
        return printStatus(names, values.json ?? false);
      }
      case 'set':
        return await set(names, rest);
      case 'exec':
        return await exec(names, rest);
      case 'scenario': {
        const { runScenario } = await import('../../tools/lab/scenarios.js');
        return await runScenario(names, rest);
      }
      case 'peer': {
        // Internal: the small programs the scenarios run on the hosts.
        const { runPeer } = await import('../../tools/lab/peers.js');
        return await runPeer(rest);
      }
      case 'wire': {
        // Internal: the wire itself, started by `lab up` inside the wire namespace.
        const { runWire } = await import('../../tools/lab/wire.js');
        return runWire(names);
      }
      case undefined:
        throw new UsageError('which one: up, exec, status, set, scenario or down?');
      default:
        throw new UsageError(`unknown lab command '${sub}'`);
    }
  } catch (error) {
    if (error instanceof LabError) {
      process.stderr.write(`sockfd lab: ${error.message}\n`);
      return 1;
    }
    if (error instanceof TypeError && (error as NodeJS.ErrnoException).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') throw new UsageError(error.message);
    throw error;
  }
}

export const command: Command = {
  name: 'lab',
  summary: "the tutorial's two machines (192.168.28.132/.133) and a wire with delay, loss and drop rules",
  usage,
  ownsHelp: true,
  run,
};
