// The one bounded wait on a condition, for the tools and the tests: poll a
// probe until it holds, never longer than a deadline (no sleep stands in for
// synchronisation anywhere).

/**
 * Polls `probe` every `intervalMs` until it returns something other than
 * undefined, null or false, and resolves with that; rejects after `timeoutMs`
 * with "timed out after N ms waiting for <what>".
 */
export async function until<T>(probe: () => T | undefined | null | false, what: string, timeoutMs = 15_000, intervalMs = 10): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== null && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
