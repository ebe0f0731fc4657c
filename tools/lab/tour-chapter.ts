// The tour's lab chapter: the tutorial's two machines, 192.168.28.132 and
// .133, and every segment of the handshake and the close between them. It
// runs `sockfd lab scenario handshake` and `... close` (which make the lab
// when it is not up and remove it after) and turns their ✓/✗ lines into the
// tour's checks. Where the lab cannot be made it says why and is skipped.
import { Running, cliPath } from '../processes.js';
import { labUnavailable } from './lab.js';
import { needsUserNamespace } from './userns.js';

/** What the chapter needs of the tour. */
export interface TourOutput {
  say(text?: string): void;
  check(ok: boolean, text: string): boolean;
  paint(style: 'bold' | 'cyan' | 'dim', text: string): string;
}

const title = '[lab] 三次握手与四次挥手 — on two machines, every segment';
const why = [
  "The tutorial runs its server on 192.168.28.132 and its client on 192.168.28.133. `sockfd lab` makes",
  'those two machines here (network namespaces joined by a wire with a delay), and `sockfd trace`',
  'shows each segment of the handshake and the close, with the TCP state of both ends after it.',
];

/** Why the lab cannot be made here (the chapter is skipped), or undefined. */
function skipReason(): string | undefined {
  const why = labUnavailable();
  if (why === undefined) return undefined;
  return needsUserNamespace() && /needs root/.test(why) ? undefined : why; // not root: a user namespace may do
}

export async function labChapter(tour: TourOutput): Promise<void> {
  tour.say(tour.paint('bold', tour.paint('cyan', title)));
  for (const line of why) tour.say(`  ${line}`);
  const reason = skipReason();
  if (reason) {
    tour.say(`  skipped: ${reason}`);
    tour.say();
    return;
  }
  for (const scenario of ['handshake', 'close']) {
    tour.say(tour.paint('dim', `  $ sockfd lab scenario ${scenario}`));
    const running = new Running(process.execPath, [cliPath, 'lab', 'scenario', scenario]);
    // A signal to the tour alone reaches the scenario too, which then removes the lab it made.
    const forward = (signal: NodeJS.Signals) => (): void => void running.stop(signal);
    const handlers = (['SIGINT', 'SIGTERM'] as const).map((signal) => [signal, forward(signal)] as const);
    for (const [signal, handler] of handlers) process.on(signal, handler);
    let done;
    try {
      done = await running.end(60_000);
    } finally {
      for (const [signal, handler] of handlers) process.off(signal, handler);
    }
    if (done.code !== 0 && /needs root|refused|unshare/.test(done.stderr) && !/[✓✗]/.test(done.stdout)) {
      tour.say(`  skipped: ${done.stderr.trim().replace(/^sockfd lab: /, '')}`);
      break;
    }
    for (const line of done.stdout.split('\n')) {
      const check = /^\s+([✓✗]) (.*)$/.exec(line);
      if (check) tour.check(check[1] === '✓', check[2]!);
      else if (line.trim() !== '' && !line.startsWith('==')) tour.say(`  ${line}`);
    }
    if (done.code !== 0 && !/✗/.test(done.stdout)) tour.check(false, `sockfd lab scenario ${scenario} failed: ${done.stderr.trim().split('\n')[0] ?? ''}`);
  }
  tour.say();
}
