// The process fixtures of test/fixtures/process: each runs as its own node
// process in a process group of its own (detached), so that fork() crashes or
// kill(0, sig) stay inside it, through the one runner (tools/processes
// Running). Fixtures import the built package: dist/ must be current (npm test
// builds it first; by hand: npx tsc -p .).
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { Running } from '../../tools/processes.js';

const fixtureDir = join(import.meta.dirname, '..', 'fixtures', 'process');

/** Starts test/fixtures/process/<name> detached; end it with `end()` (bounded) or `killGroup()`. */
export function startFixture(name: string, args: readonly string[] = []): Running {
  if (!existsSync(join(import.meta.dirname, '..', '..', 'dist', 'lib', 'process.js'))) throw new Error('dist/ is not built: run npx tsc -p .');
  return new Running(process.execPath, [join(fixtureDir, name), ...args], { detached: true });
}

/**
 * A `run(name, args)` for one test file: every fixture it starts has its
 * process group killed after each test, whatever the test's outcome.
 */
export function fixtureRunner(): (name: string, args?: readonly string[]) => Running {
  const started: Running[] = [];
  afterEach(() => {
    for (const fixture of started.splice(0)) fixture.killGroup();
  });
  return (name, args = []) => {
    const fixture = startFixture(name, args);
    started.push(fixture);
    return fixture;
  };
}

/** State letter and parent of a process from /proc/<pid>/stat, or null when it is gone. */
export function procStat(pid: number): { state: string; ppid: number } | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0]!, ppid: Number(fields[1]) };
}

/** fd number → what it refers to ('socket:[123]', 'pipe:[45]', a path), from /proc/<pid>/fd. */
export function fdTable(pid: number): Map<number, string> {
  const table = new Map<number, string>();
  for (const entry of readdirSync(`/proc/${pid}/fd`)) {
    try {
      table.set(Number(entry), readlinkSync(`/proc/${pid}/fd/${entry}`));
    } catch {
      // closed meanwhile
    }
  }
  return table;
}
