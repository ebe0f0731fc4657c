// What every `sockfd <command>` module exports, and the usage error they throw.

export interface Command {
  /** The word typed after `sockfd`. */
  name: string;
  /** Other words that reach the same command. */
  aliases?: readonly string[];
  /** One line for `sockfd --help`. */
  summary: string;
  /** The full `--help` text of the command (starts with a "usage:" line). */
  usage: string;
  /**
   * When true, `--help` after the first argument is the command's to handle
   * (`sockfd demo client --help` is the twin's help, not the demo list).
   */
  ownsHelp?: boolean;
  /** Runs the command; resolves to the exit code. */
  run(argv: string[]): Promise<number> | number;
}

export { UsageError } from '../tools/usage-error.js';
