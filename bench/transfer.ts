// transfer: one large file over loopback in the tutorial's protocol (demo11
// -> demo12: header, "ok", content, "ok"), through sockfd's lib/transfer (the
// code behind send-file / recv-files), against the tutorial-style C pair
// (read/send and recv/write of 4 KiB) and a C reference that uses
// sendfile(2) and splice(2). Also sockfd's extended format, which adds a
// SHA-256 of the content checked before the file is published.
import { randomFillSync } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readdirSync, rmSync, statfsSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { serveFiles, uploadFile, type TransferFormat } from '../lib/transfer/index.js';
import { bySize, measureCase, pairRun, sizeLabel, type BenchContext, type Benchmark } from './harness/harness.js';
import type { RunOutput } from './harness/model.js';
import { announcePort, choiceArg, intArg, nowNs, printResult } from './harness/peer-io.js';

const NAME = 'transfer';
const SEED = 'C seed 4 KiB';
const ZERO_COPY = 'C sendfile/splice';
const SOCKFD = 'sockfd';
const SOCKFD_SHA = 'sockfd +SHA-256';
const impls = [SEED, ZERO_COPY, SOCKFD, SOCKFD_SHA] as const;
const formats = ['tutorial', 'extended'] as const satisfies readonly TransferFormat[];

async function sockfdServer(args: readonly string[]): Promise<void> {
  const dir = args[0];
  if (dir === undefined) throw new RangeError('DIR is missing');
  await serveFiles({
    port: 0,
    bind: { family: 'AF_INET', address: '127.0.0.1', port: 0 },
    dir,
    maxConnections: 1,
    events: {
      listening: (address) => {
        if (address.family !== 'AF_INET') throw new Error('listening on a non-IPv4 address');
        announcePort(address.port);
      },
    },
  });
}

function sockfdClient(args: readonly string[]): void {
  const port = intArg(args, 0, 'PORT');
  const path = args[1];
  if (path === undefined) throw new RangeError('FILE is missing');
  const format = choiceArg(args, 2, 'FORMAT', formats);
  const start = nowNs();
  const result = uploadFile({ host: '127.0.0.1', port, path, format });
  const elapsed = nowNs() - start;
  printResult({ ops: 1, bytes: result.size, ns: Math.round(elapsed) });
}

/** A directory with room for the file twice: tmpfs (/dev/shm) when it has it, so the disk does not blur the network path. */
function workDir(context: BenchContext, size: number): { dir: string; where: string } {
  try {
    const fs = statfsSync('/dev/shm');
    if (fs.bavail * fs.bsize > size * 3) {
      const dir = join('/dev/shm', `sockfd-bench-transfer-${process.pid}`);
      mkdirSync(dir, { recursive: true });
      return { dir, where: 'tmpfs (/dev/shm): the network path and the page cache, no disk' };
    }
  } catch {
    // no /dev/shm: use the temporary directory
  }
  return { dir: context.tempDir, where: `${context.tempDir} (its file system's page cache; the disk may take part)` };
}

/** Writes `size` bytes of random content (a 16 MiB random block repeated) to `path`. */
function makeFile(path: string, size: number): void {
  const block = randomFillSync(Buffer.allocUnsafe(Math.min(size, 16 << 20) || 1));
  const fd = openSync(path, 'w');
  try {
    for (let done = 0; done < size; ) {
      const n = writeSync(fd, block, 0, Math.min(block.length, size - done));
      done += n;
    }
  } finally {
    closeSync(fd);
  }
}

async function run(context: BenchContext) {
  const size = bySize(context, { full: 1 << 30, quick: 64 << 20, smoke: 1 << 20 });
  const warmupSize = bySize(context, { full: 128 << 20, quick: 16 << 20, smoke: 64 << 10 });
  const runs = bySize(context, { full: 3, quick: 1 });
  const { dir, where } = workDir(context, size);
  const outDir = join(dir, 'received');
  mkdirSync(outDir, { recursive: true });
  const file = join(dir, 'payload.bin');
  const warmupFile = join(dir, 'warmup.bin');
  try {
    context.log(`writing a ${sizeLabel(size)} file`);
    makeFile(file, size);
    makeFile(warmupFile, warmupSize);
    const runOnce = async (impl: string, warm: boolean): Promise<RunOutput> => {
      const source = warm ? warmupFile : file;
      let output: RunOutput;
      if (impl === SEED || impl === ZERO_COPY) {
        const mode = impl === SEED ? 'seed' : 'zerocopy';
        output = await pairRun(context, context.c(NAME, 'server', mode, outDir), (port) => context.c(NAME, 'client', mode, port, source));
      } else {
        const format = impl === SOCKFD ? 'tutorial' : 'extended';
        output = await pairRun(context, context.node(NAME, 'sockfd-server', [outDir]), (port) => context.node(NAME, 'sockfd-client', [port, source, format]));
      }
      // Every run must have delivered the whole file, then it goes (tmpfs is memory).
      const received = readdirSync(outDir);
      const expected = statSync(source).size;
      if (received.length !== 1 || statSync(join(outDir, received[0]!)).size !== expected)
        throw new Error(`${impl}: the server stored ${received.join(', ') || 'nothing'}, not one file of ${expected} bytes`);
      for (const name of received) rmSync(join(outDir, name), { force: true });
      return output;
    };
    const result = await measureCase(
      context,
      {
        name: `${sizeLabel(size)} file`,
        kind: 'throughput',
        impls,
        subject: SOCKFD,
        targets: [
          { subject: SOCKFD, reference: SEED, ratio: 2 },
          { subject: SOCKFD, reference: ZERO_COPY, ratio: 0.9 },
        ],
        note: 'from connect to the final "ok"; the server stores the file and is one process per upload',
      },
      { runs, runOnce, warmupRun: !context.quick },
    );
    return {
      title: `transfer: a ${sizeLabel(size)} file over loopback, the tutorial's protocol`,
      description:
        'One upload per connection in demo11/demo12\'s format (260-byte header, "ok", content, "ok"). C seed 4 KiB: the tutorial\'s ' +
        'loops, done right (read/send, recv/write of 4 KiB). C sendfile/splice: sendfile(2) on the sender, splice(2) socket -> pipe ' +
        '-> file on the receiver. sockfd: lib/transfer\'s uploadFile() and serveFiles() (what send-file and recv-files run), in the ' +
        'tutorial format; sockfd +SHA-256: the same in the extended format, which hashes the content on both sides and checks it ' +
        'before the file is published. Targets (file-transfer issue): at least 2x the seed pair and 0.9x the sendfile/splice reference.',
      parameters: { fileSize: size, runs, warmupSize, files: where },
      cases: [result],
      notes: [`files on ${where}`],
    };
  } finally {
    rmSync(file, { force: true });
    rmSync(warmupFile, { force: true });
    rmSync(outDir, { recursive: true, force: true });
    if (dir !== context.tempDir) rmSync(dir, { recursive: true, force: true });
  }
}

export const benchmark: Benchmark = {
  name: NAME,
  summary: "1 GiB file in the tutorial's protocol: lib/transfer vs the C seed pair (4 KiB) vs C sendfile/splice",
  cPrograms: [NAME],
  peers: { 'sockfd-server': sockfdServer, 'sockfd-client': sockfdClient },
  run,
};
