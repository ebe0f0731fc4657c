// File transfer: the tutorial's demo11/demo12 format and the extended one,
// the receiver (one upload per connection), the sender, the forking server.
export * from './protocol.js';
export * from './receiver.js';
export * from './sender.js';
export * from './server.js';
export { formatBytes, formatDuration, formatRate, parseSize } from './units.js';
