#!/usr/bin/env node
// The sockfd command. Output is made blocking first: in Node a pipe is
// non-blocking and output still queued at exit would otherwise be lost.
for (const stream of [process.stdout, process.stderr]) stream._handle?.setBlocking?.(true);
const { main } = await import('../dist/cli/main.js');
process.exitCode = await main(process.argv.slice(2));
