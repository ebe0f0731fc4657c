// The error a tool or twin throws on wrong arguments: the CLI prints the
// message and the usage, and exits 2 (twins print the tutorial's usage lines).

/** Wrong arguments: main prints the message and the usage, and exits 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}
