// A command-line option that must be a whole number in a range.
import { UsageError } from '../../tools/usage-error.js';

/** `text` as an integer min..max, undefined when the option was not given; a UsageError otherwise. */
export function intOption(text: string | undefined, name: string, min: number, max: number): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < min || value > max) throw new UsageError(`${name} must be an integer ${min}..${max}, got '${text}'`);
  return value;
}
