// `npm install` (and `npm rebuild`) of sockfd: use the prebuilt binaries when
// they fit this Node, else build from source with node-gyp.
//
// - A source checkout (it has .git) always builds: its prebuilds/ may be older
//   than native/.
// - --build-from-source (npm_config_build_from_source) always builds.
// - Otherwise nothing is compiled when node-gyp-build finds a core that loads
//   and there is a per-ABI addon (sockfd_node) for this NODE_MODULE_VERSION.
// - A failed build is fatal only when no core loads. With a prebuilt core and
//   no sockfd_node for this Node, the install succeeds with a warning: every
//   feature works but fork(), which throws an Error saying how to build it.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const abi = process.versions.modules;
const perAbiPrebuild = join(root, 'prebuilds', `${process.platform}-${process.arch}`, 'sockfd_node', `node.abi${abi}.node`);

function say(message) {
  process.stderr.write(`sockfd: ${message}\n`);
}

function coreLoads() {
  try {
    const core = require('node-gyp-build')(root);
    return typeof core.socket === 'function';
  } catch {
    return false;
  }
}

// The prebuilt sockfd_node for this ABI exists and loads here (a C++ library
// older than the build machine's would refuse it).
function perAbiPrebuildLoads() {
  if (!existsSync(perAbiPrebuild)) return false;
  try {
    return String(require(perAbiPrebuild).builtFor.nodeModuleVersion) === abi;
  } catch {
    return false;
  }
}

function nodeGypBuild() {
  // npm runs scripts with its own node-gyp at hand (npm_config_node_gyp).
  const nodeGyp = process.env.npm_config_node_gyp;
  // One compiler per CPU (node-gyp's default is one in all), unless JOBS or --jobs says otherwise.
  const jobs = process.env.JOBS || process.env.npm_config_jobs ? [] : ['--jobs', 'max'];
  const [command, args] = nodeGyp ? [process.execPath, [nodeGyp, 'rebuild', ...jobs]] : ['node-gyp', ['rebuild', ...jobs]];
  const child = spawnSync(command, args, { cwd: root, stdio: 'inherit' });
  return child.status === 0;
}

const checkout = existsSync(join(root, '.git'));
const fromSource = checkout || process.env.npm_config_build_from_source === 'true';
const prebuildsFit = !fromSource && coreLoads() && perAbiPrebuildLoads();

if (prebuildsFit) {
  say(`using the prebuilt binaries for ${process.platform}-${process.arch}, Node ${process.version} (no compiler needed)`);
} else {
  if (!fromSource) say(`no prebuilt binaries that load on Node ${process.version} (NODE_MODULE_VERSION ${abi}) here: building from source`);
  if (!nodeGypBuild()) {
    if (fromSource || !coreLoads()) process.exit(1);
    say(
      `the build failed; installed the prebuilt core without sockfd_node: everything works except fork(), ` +
        `which throws until \`npm rebuild sockfd\` succeeds (needs a C++ compiler, make and python3)`,
    );
  }
}
