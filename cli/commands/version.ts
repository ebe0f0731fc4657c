import type { Command } from '../command.js';
import { main } from '../main.js';

export const command: Command = {
  name: 'version',
  summary: 'print the version',
  usage: 'usage: sockfd version\n\nPrints the version of sockfd (same as sockfd --version).',
  run: () => main(['--version']),
};
