// What every twin of a tutorial program exports (demos/<name>.ts: `export const demo`).
// `sockfd demo <name>` finds them by listing this directory.

export interface Demo {
  /** Descriptive name: `sockfd demo client`. */
  name: string;
  /** The tutorial's own program name(s), e.g. ['demo1']: `sockfd demo demo1`. */
  programs: readonly string[];
  /** One line for `sockfd demo --help`. */
  summary: string;
  /** `--help` text. The tutorial's usage lines go to stdout on wrong arguments (as the C does). */
  usage: string;
  /** Runs the twin with the program's arguments; resolves to the exit code. */
  run(argv: string[]): Promise<number> | number;
}
