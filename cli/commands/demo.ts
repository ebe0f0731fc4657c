// `sockfd demo <name|demoN> [args...]`: runs the TypeScript twin of a tutorial
// program. Twins are found by listing the demos directory (every module that
// exports `demo`), so adding one edits no list.
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { type Command, UsageError } from '../command.js';
import type { Demo } from '../../demos/support/demo.js';

const demosDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'demos');

/** Every twin in the demos directory, sorted by name. */
export async function loadDemos(): Promise<Demo[]> {
  const files = readdirSync(demosDir).filter((f) => f.endsWith('.js')).sort();
  const modules = await Promise.all(files.map((f) => import(pathToFileURL(join(demosDir, f)).href) as Promise<{ demo?: Demo }>));
  return modules.flatMap((m) => (m.demo ? [m.demo] : [])).sort((a, b) => a.name.localeCompare(b.name));
}

/** The twin called `name`, by its descriptive name or the tutorial's program name. */
export function findDemo(demos: readonly Demo[], name: string): Demo | undefined {
  return demos.find((d) => d.name === name || d.programs.includes(name));
}

const demos = await loadDemos();

function listing(): string {
  const labels = demos.map((d) => (d.programs.length ? `${d.name} (${d.programs.join(', ')})` : d.name));
  const width = Math.max(...labels.map((l) => l.length));
  return demos.map((d, i) => `  ${labels[i]!.padEnd(width)}  ${d.summary}`).join('\n');
}

const usage = [
  'usage: sockfd demo <name|demoN> [args...]',
  '       sockfd demo help <name>      the help of one twin',
  '',
  'Runs the TypeScript twin of a program of the socket tutorial. A twin takes the',
  "C program's arguments and prints what the C program prints (same text, same",
  'errors, same bytes on the wire); only fds, pids, addresses, ports and timing',
  'differ. Wrong arguments print the tutorial\'s usage lines and exit 255, as the C does.',
  '',
  'twins:',
  listing(),
].join('\n');

export const command: Command = {
  name: 'demo',
  summary: 'run the twin of a tutorial program (sockfd demo --help lists them)',
  ownsHelp: true,
  usage,
  async run(argv) {
    const [name, ...rest] = argv;
    if (name === undefined) throw new UsageError('which twin? (a name or the tutorial program, e.g. client or demo1)');
    if (name === 'help') {
      const wanted = rest[0];
      const twin = wanted === undefined ? undefined : findDemo(demos, wanted);
      if (wanted === undefined) {
        process.stdout.write(usage + '\n');
        return 0;
      }
      if (!twin) throw new UsageError(`no twin called '${wanted}'`);
      process.stdout.write(`sockfd demo ${twin.name}${twin.programs.length ? `   (the tutorial's ${twin.programs.join(', ')})` : ''}\n\n${twin.usage}\n`);
      return 0;
    }
    const twin = findDemo(demos, name);
    if (!twin) throw new UsageError(`no twin called '${name}'`);
    if (rest.includes('--help') || rest.includes('-h')) return command.run(['help', name]);
    try {
      return await twin.run(rest);
    } catch (error) {
      if (error instanceof UsageError) {
        process.stderr.write(`sockfd demo ${twin.name}: ${error.message}\n\n${twin.usage}\n`);
        return 2;
      }
      process.stderr.write(`sockfd demo ${twin.name}: ${error instanceof Error ? error.message : String(error)}\n`);
      return 1;
    }
  },
};
