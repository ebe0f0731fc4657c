// Types of eintr.mjs for the TypeScript tests that import it (test/fuzz-connect-continuation.test.ts); only what they use.

/** System call numbers of the calls the forced cases wait in, and of the poll an interrupted connect goes on in, by architecture. */
export const SYSCALL_NUMBERS: Record<string, { recv: number; send: number; read: number; write: number; connect: number; accept: number; poll: number } | undefined>;

/** Whether a /proc/<pid>/task/<tid>/syscall line (split at spaces) shows the main thread where a case's signal must reach it. */
export function blockedInCall(fields: readonly string[], syscall: number, fd: number, numbers: { connect: number; poll: number }): boolean;
