// `sockfd tour` end to end, as a newcomer runs it, here through a pipe: every
// step runs and every check holds, plain text (no colours) in a pipe, exit 0.
import { describe, expect, it } from 'vitest';
import { noColor } from '../cli/commands/tour.js';
import { runCli } from './helpers/twins.js';

describe('sockfd tour', () => {
  it('walks all twelve steps of the tutorial, every check holds, plain text in a pipe, exit 0', async () => {
    const { code, stdout, stderr } = await runCli(['tour'], { timeoutMs: 170_000 });
    expect(stderr).toBe('');
    expect(code, stdout).toBe(0);
    expect(stdout).not.toMatch(/\x1b\[/);
    const headers = stdout.split('\n').filter((line) => /^\[\d+\/\d+\] /.test(line));
    expect(headers.map((line) => line.slice(0, line.indexOf(']') + 1))).toEqual(Array.from({ length: 12 }, (_, i) => `[${i + 1}/12]`));
    for (const section of ['文件描述符', 'open files', '字节序', '第一个网络通讯程序', 'inet_addr', '封装socket', '多进程', '文件传输', '三次握手', '四次挥手', 'TCP缓存', 'Nagle'])
      expect(stdout).toContain(section);
    // The tools ran on the twins' processes, and the twins as separate processes.
    expect(stdout).toMatch(/^ {2}\$ sockfd fds \d+$/m);
    expect(stdout).toMatch(/^ {2}\$ sockfd demo fork-server 0 &$/m);
    const passed = stdout.split('\n').filter((line) => line.startsWith('  ✓ ')).length;
    expect(stdout).not.toContain('✗');
    expect(stdout).toMatch(new RegExp(`^All ${passed} checks of 12 steps held, as the tutorial says \\(\\d+\\.\\d s\\)\\.$`, 'm'));
  }, 180_000);

  it('NO_COLOR disables colour only when it is set and not empty (no-color.org)', () => {
    expect(noColor({})).toBe(false);
    expect(noColor({ NO_COLOR: '' })).toBe(false);
    expect(noColor({ NO_COLOR: '1' })).toBe(true);
    expect(noColor({ NO_COLOR: '0' })).toBe(true);
  });

  it('--help describes it; an unknown argument is a usage error', async () => {
    const help = await runCli(['tour', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^usage: sockfd tour/);
    const bad = await runCli(['tour', '--fast']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("unknown argument '--fast'");
  });
});
