// demo7: the client through the tutorial's ctcpclient class, here TcpClient.
// Ten rounds of "这是第N个超级女生，编号N。" (not zero-padded: to_string()).
import { HostNotFoundError, TcpClient } from '../lib/tcp-client.js';
import type { Demo } from './support/demo.js';
import { C_FAILURE, STRERROR_SUCCESS, clientUsage, parseTwinArgs, perror, perrorText, portArgument, print, sleep, sleepOption, twinHelp } from './support/tutorial-io.js';

const options = sleepOption;

const usageLines = (): string => clientUsage('class-client', '192.168.101.138');

export const demo: Demo = {
  name: 'class-client',
  programs: ['demo7'],
  summary: 'demo7: the client through TcpClient (ctcpclient), 10 rounds, 编号N not padded',
  usage: twinHelp(
    "demo7: the same exchange through the tutorial's ctcpclient class, here TcpClient:\nconnect(ip, port), then ten rounds of send()/recv(buffer, 1024).",
    usageLines(),
    options,
  ),
  async run(argv) {
    const { positionals, numbers } = parseTwinArgs(argv, options);
    if (positionals.length !== 2) {
      print(usageLines());
      return C_FAILURE;
    }
    const [ip, port] = positionals as [string, string];
    using tcpclient = new TcpClient();
    try {
      tcpclient.connect(ip, portArgument(port)); // 向服务端发起连接请求。
    } catch (error) {
      // gethostbyname() does not set errno: C's perror prints what errno held, 0 here.
      if (error instanceof HostNotFoundError) perrorText('connect()', STRERROR_SUCCESS);
      else perror('connect()', error);
      return C_FAILURE;
    }
    for (let ii = 0; ii < 10; ii++) {
      const buffer = `这是第${ii + 1}个超级女生，编号${ii + 1}。`;
      try {
        tcpclient.send(buffer);
      } catch (error) {
        perror('send', error);
        break;
      }
      print(`发送：${buffer}\n`);
      let reply: Buffer | null;
      try {
        reply = tcpclient.recv(1024);
      } catch (error) {
        perror('recv()', error);
        break;
      }
      if (reply === null) {
        perrorText('recv()', STRERROR_SUCCESS); // recv() returned 0: errno untouched, still 0
        break;
      }
      print('接收：', reply, '\n'); // a std::string: every byte, NULs included
      await sleep(numbers['sleep-ms']!);
    }
    return 0;
  },
};
