// Entry point of a benchmark's Node side in its own process:
//   node dist/bench/harness/peer.js <benchmark> <role> [args...]
// A failure prints the error on stderr and exits 1, which the harness reports.
import { loadBenchmark } from './registry.js';

async function main(argv: readonly string[]): Promise<void> {
  const [name, role, ...args] = argv;
  if (name === undefined || role === undefined) throw new Error('usage: peer.js <benchmark> <role> [args...]');
  const benchmark = await loadBenchmark(name);
  const peer = benchmark.peers[role];
  if (!peer) throw new Error(`benchmark ${name} has no peer '${role}' (has: ${Object.keys(benchmark.peers).join(', ')})`);
  await peer(args);
}

main(process.argv.slice(2)).then(
  () => process.exit(0), // a peer may leave handles (servers, timers) behind: its work is done
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
