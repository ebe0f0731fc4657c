// Dispatch for the `sockfd` command: every module in cli/commands exports
// `command`, found by reading the directory, so a new command edits no list.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { type Command, UsageError } from './command.js';
import { packageRoot } from '../lib/native.js';

const commandsDir = join(dirname(fileURLToPath(import.meta.url)), 'commands');

async function loadCommands(): Promise<Command[]> {
  const files = readdirSync(commandsDir).filter((f) => f.endsWith('.js')).sort();
  const modules = await Promise.all(files.map((f) => import(pathToFileURL(join(commandsDir, f)).href) as Promise<{ command?: Command }>));
  return modules.flatMap((m) => (m.command ? [m.command] : []));
}

function version(): string {
  return (JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { version: string }).version;
}

function overview(commands: Command[]): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    'usage: sockfd <command> [args...]',
    '       sockfd <command> --help',
    '',
    'Real POSIX sockets for Node.js, with real file descriptors.',
    '',
    'commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'options:',
    '  -h, --help     show this help',
    '  -V, --version  print the version',
  ].join('\n');
}

// A command's module is named after it: load just that one when the word
// matches a file, so `sockfd netstat` does not import every demo and benchmark.
async function loadCommand(word: string): Promise<Command | undefined> {
  if (!/^[a-z][a-z0-9-]*$/.test(word) || !existsSync(join(commandsDir, `${word}.js`))) return undefined;
  const module = (await import(pathToFileURL(join(commandsDir, `${word}.js`)).href)) as { command?: Command };
  return module.command?.name === word ? module.command : undefined;
}

/** The message of an error a command did not expect, without a stack trace: "bind: Address already in use". */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Runs `sockfd argv...`; resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  // Before any command is imported: `sockfd --version` works with few fds (ulimit -n 30) and a broken command.
  if (first === '-V' || first === '--version') {
    process.stdout.write(`sockfd ${version()}\n`);
    return 0;
  }
  const direct = first === undefined ? undefined : await loadCommand(first);
  const commands = direct ? [direct] : await loadCommands();
  if (first === undefined) {
    process.stderr.write(`sockfd: which command?\n\n${overview(commands)}\n`);
    return 2;
  }
  if (first === '-h' || first === '--help' || first === 'help') {
    if (first === 'help' && rest[0] !== undefined) return main([rest[0], '--help']);
    process.stdout.write(overview(commands) + '\n');
    return 0;
  }
  const command = commands.find((c) => c.name === first || c.aliases?.includes(first));
  if (!command) {
    process.stderr.write(`sockfd: unknown command '${first}'\n\n${overview(commands)}\n`);
    return 2;
  }
  const asksHelp = (word: string | undefined) => word === '--help' || word === '-h';
  if (asksHelp(rest[0]) || (!command.ownsHelp && rest.some(asksHelp))) {
    process.stdout.write(command.usage + '\n');
    return 0;
  }
  try {
    return await command.run(rest);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`sockfd ${command.name}: ${error.message}\n\n${command.usage}\n`);
      return 2;
    }
    // A failure the command did not turn into a message of its own: the message, never a stack trace.
    process.stderr.write(`sockfd ${command.name}: ${errorMessage(error)}\n`);
    return 1;
  }
}
