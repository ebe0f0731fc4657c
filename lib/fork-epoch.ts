// How many fork()s this process is away from the one that started the
// library (0 in the original process). Not exported to users: lib/async.ts
// compares it across every suspension of a call, so that a call the parent
// had pending never continues in a forked child (docs/async.md, "fork()").
export let forkEpoch = 0;

/**
 * Called by fork() in the child, before any other JS runs there. A
 * parenthesized function expression: compiled with the module, in the parent
 * (lib/process.ts explains why).
 */
export const enterForkedChild = (function enterForkedChild(): void {
  forkEpoch++;
});
