// The kernel's own word on TCP states: the tracepoint sock:inet_sock_set_state,
// read from a tracefs instance of our own. tracefs is mounted in a private
// mount namespace (`unshare -m`), so the host gains no mount; the instance is
// removed when we stop (or when we die: the helper notices its stdin close).
//
// The tracepoint reports full sockets only: a request socket waiting in
// SYN_RECV is reported when the final ACK makes it a full socket, and a socket
// handed to TIME_WAIT is reported as going to CLOSE. So trace derives states
// from the segments and uses these events to confirm each transition.
import { spawn, type ChildProcess } from 'node:child_process';

export interface KernelTransition {
  /** CLOCK_MONOTONIC, ms (process.hrtime's clock). */
  at: number;
  local: string;
  remote: string;
  from: string;
  to: string;
}

const helper = `
T=/sys/kernel/tracing
[ -e $T/events ] || mount -t tracefs nodev $T 2>/dev/null || { echo "NO tracefs cannot be mounted"; exit 0; }
[ -e $T/events/sock/inet_sock_set_state ] || { echo "NO this kernel has no sock:inet_sock_set_state"; exit 0; }
# An instance outlives its helper if the helper is killed before it removes it (SIGKILL, or a
# signal before this version's trap): its tracepoint stays on and every TCP state change on the
# machine is written into it (12 such instances made each loopback connection ~30% dearer in CPU).
# Remove those whose helper is gone; a live pid (or a reused one) keeps its instance.
for old in $T/instances/sockfd-trace-*; do
  [ -d "$old" ] || continue
  kill -0 "\${old##*-}" 2>/dev/null && continue
  echo 0 > "$old/events/sock/inet_sock_set_state/enable" 2>/dev/null
  rmdir "$old" 2>/dev/null
done
I=$T/instances/sockfd-trace-$$
mkdir $I 2>/dev/null || { echo "NO cannot create a tracefs instance"; exit 0; }
c=
# The reader first: an instance with an open trace_pipe cannot be removed. SIGKILL: a signal
# that reaches the reader between its fork and its exec runs this shell's trap there and is lost.
stop() {
  [ -n "$c" ] && { kill -9 $c 2>/dev/null; wait $c 2>/dev/null; }
  echo 0 > $I/events/sock/inet_sock_set_state/enable
  rmdir $I
}
# Ctrl+C reaches the whole process group, this shell included: remove the instance then too.
trap 'stop; exit 0' INT TERM HUP
echo mono > $I/trace_clock
echo 1 > $I/events/sock/inet_sock_set_state/enable
cat $I/trace_pipe & c=$!
echo READY
read _ || true
trap - INT TERM HUP
stop
`;

const stateName = (kernel: string): string => {
  const name = kernel.replace(/^TCP_/, '');
  return name === 'CLOSE' ? 'CLOSED' : name === 'NEW_SYN_RECV' ? 'SYN_RECV' : name;
};

const linePattern = /\s(\d+\.\d+): inet_sock_set_state: family=AF_INET protocol=IPPROTO_TCP sport=(\d+) dport=(\d+) saddr=([\d.]+) daddr=([\d.]+) .*oldstate=(\w+) newstate=(\w+)/;

/** Parses one trace_pipe line; undefined for other lines. */
export function parseTransition(line: string): KernelTransition | undefined {
  const match = linePattern.exec(line);
  if (!match) return undefined;
  return { at: Number(match[1]) * 1000, local: `${match[4]}:${match[2]}`, remote: `${match[5]}:${match[3]}`, from: stateName(match[6]!), to: stateName(match[7]!) };
}

export class KernelStates {
  available = false;
  why: string | undefined;
  readonly #child: ChildProcess | undefined;
  readonly #events: KernelTransition[] = [];
  #partial = '';

  private constructor(child: ChildProcess | undefined, why?: string) {
    this.#child = child;
    this.why = why;
  }

  /** Starts reading the tracepoint when we are root; otherwise says why not. */
  static start(): KernelStates {
    if (process.getuid?.() !== 0) return new KernelStates(undefined, 'the kernel tracepoint needs root');
    const child = spawn('unshare', ['-m', '--propagation', 'private', 'sh', '-c', helper], { stdio: ['pipe', 'pipe', 'ignore'] });
    const states = new KernelStates(child, 'the kernel tracepoint did not start');
    child.on('error', () => (states.why = 'unshare is missing'));
    child.stdout!.setEncoding('utf8').on('data', (text: string) => states.#take(text));
    return states;
  }

  /** Waits (bounded) until the helper said READY or why not. */
  async ready(timeoutMs = 3000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.available && this.why === 'the kernel tracepoint did not start' && this.#child?.exitCode === null && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return this.available;
  }

  #take(text: string): void {
    const lines = (this.#partial + text).split('\n');
    this.#partial = lines.pop()!;
    for (const line of lines) {
      if (line === 'READY') {
        this.available = true;
        this.why = undefined;
      } else if (line.startsWith('NO ')) {
        this.why = line.slice(3);
      } else {
        const event = parseTransition(line);
        if (event) this.#events.push(event);
      }
    }
    if (this.#events.length > 10_000) this.#events.splice(0, this.#events.length - 10_000);
  }

  /**
   * Takes the oldest transition of `local` (towards `remote`) into `state`, if
   * the kernel reported one. A socket passed to TIME_WAIT (or to FIN_WAIT2
   * when orphaned) shows in the kernel as going to CLOSED from FIN_WAIT1/2 or CLOSING.
   */
  confirm(local: string, remote: string, state: string): boolean {
    // A server's SYN_RECV is a request socket, which the tracepoint reports only
    // when the final ACK arrives (LISTEN -> SYN_RECV -> ESTABLISHED at once).
    if (state === 'SYN_RECV') return false;
    const index = this.#events.findIndex((event) => {
      if (event.local !== local || event.remote !== remote) return false;
      if (event.to === state) return true;
      return (state === 'TIME_WAIT' || state === 'FIN_WAIT2') && event.to === 'CLOSED' && /^(FIN_WAIT1|FIN_WAIT2|CLOSING)$/.test(event.from);
    });
    if (index < 0) return false;
    // This transition and the earlier ones of the same socket are accounted for.
    for (let at = index; at >= 0; at--) {
      const event = this.#events[at]!;
      if (event.local === local && event.remote === remote) this.#events.splice(at, 1);
    }
    return true;
  }

  /** Every transition not yet taken (for tests and --json's end summary). */
  get unconfirmed(): readonly KernelTransition[] {
    return this.#events;
  }

  stop(): void {
    if (this.#child && this.#child.exitCode === null) this.#child.stdin?.end();
  }
}
