#!/usr/bin/env node
// The sockfd command. Output is made blocking first: in Node a pipe is
// non-blocking and output still queued at exit would otherwise be lost.
// A reader that goes away (`sockfd netstat | head -1`) ends us quietly, as
// SIGPIPE ends a C program; Node ignores SIGPIPE, so the write fails EPIPE.
for (const stream of [process.stdout, process.stderr]) {
  stream._handle?.setBlocking?.(true);
  stream.on('error', (error) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
}
try {
  const { main } = await import('../dist/cli/main.js');
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  // The addon or a module could not load (EMFILE under a tiny ulimit, a missing build): a message, not a stack trace.
  process.stderr.write(`sockfd: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
}
