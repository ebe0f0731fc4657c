// What the tutorial's programs send and print, written out as the tutorial
// shows it: the one reference the tour and the tests compare the twins and the
// C programs against. The twins build their text themselves
// (demos/support/exchange.ts, demos/class-client.ts), so this is independent
// of the code it checks.

/** demo1/demo5's request: sprintf("这是第%d个超级女生，编号%03d。"), the number padded to three digits. */
export const girl = (n: number): string => `这是第${n}个超级女生，编号${String(n).padStart(3, '0')}。`;

/** demo7's request: the number through to_string(), not padded. */
export const classGirl = (n: number): string => `这是第${n}个超级女生，编号${n}。`;

const rounds = (count: number): number[] => Array.from({ length: count }, (_, i) => i + 1);

/** A client's lines for `count` rounds: 发送：<request>, 接收：ok. */
export function clientLines(count: number, request: (n: number) => string): string[] {
  return rounds(count).flatMap((n) => [`发送：${request(n)}`, '接收：ok']);
}

/** The server's lines for `count` rounds: 接收：<request>, 发送：ok. */
export function serverLines(count: number, request: (n: number) => string): string[] {
  return rounds(count).flatMap((n) => [`接收：${request(n)}`, '发送：ok']);
}

/** The two lines under demo2's usage. */
export const firewallNote: readonly string[] = ['注意：运行服务端程序的Linux系统的防火墙必须要开通5005端口。', '      如果是云服务器，还要开通云平台的访问策略。'];
