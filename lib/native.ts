// Loads the two addons (binding.gyp).
//
// The N-API core `sockfd` is ABI-stable: node-gyp-build loads build/Release
// when there is a build, else the package's prebuild for linux-x64 (one file
// for every Node version). SOCKFD_ADDON points at another build (the Debug or
// ASan build from CMakeLists.txt) for development.
//
// The per-ABI addon `sockfd_node` (native/node/: node.h and V8's C++ API, e.g.
// fork's worker parking) must match the running Node's NODE_MODULE_VERSION
// exactly. It is loaded only when a feature first needs it (nodeAddon()), so a
// missing or mismatched build costs that feature alone, with an Error that says
// which Node it needs and how to build it, never an abort.
import { createRequire } from 'node:module';
import { existsSync, readFileSync, readdirSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);

function findPackageRoot(start: string): string {
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'binding.gyp'))) return dir;
    if (dirname(dir) === dir) throw new Error(`sockfd: cannot find the package root above ${start}`);
  }
}

/** The directory that holds package.json and binding.gyp. */
export const packageRoot: string = findPackageRoot(dirname(fileURLToPath(import.meta.url)));

const loadBuild = require('node-gyp-build') as (dir: string) => unknown;

/**
 * The raw addon. Each lib module views it through an interface of the native
 * functions it uses (`binding as unknown as SomeBinding`), so the typing of a
 * concern lives next to its wrappers.
 */
export const binding: Record<string, unknown> = (
  process.env.SOCKFD_ADDON ? require(process.env.SOCKFD_ADDON) : loadBuild(packageRoot)
) as Record<string, unknown>;

/** Constants compiled in from the system headers. */
export const nativeConstants = binding.constants as Readonly<Record<string, number>>;

// ---- the per-ABI addon -------------------------------------------------------------

/** What every build of sockfd_node exports besides its features (native/node/addon.cc). */
export interface NodeAddon {
  /** The Node the addon was compiled against. */
  readonly builtFor: { readonly nodeModuleVersion: number; readonly nodeVersion: string };
  readonly [feature: string]: unknown;
}

// NODE_MODULE_VERSION of the Node majors this package is tested on (engines).
const nodeMajorOfAbi: Readonly<Record<string, number>> = { 115: 20, 127: 22, 137: 24 };

function describeAbi(abi: string | number): string {
  const major = nodeMajorOfAbi[String(abi)];
  return major === undefined ? `NODE_MODULE_VERSION ${abi}` : `Node ${major} (NODE_MODULE_VERSION ${abi})`;
}

/** The directory of the per-ABI prebuilds: prebuilds/<platform>-<arch>/sockfd_node/node.abi<N>.node. */
export const nodeAddonPrebuildDir: string = join(packageRoot, 'prebuilds', `${process.platform}-${process.arch}`, 'sockfd_node');

/** The local build of sockfd_node (`npm rebuild` / node-gyp writes it; not *.node, see binding.gyp). */
export const nodeAddonBuildPath: string = join(packageRoot, 'build', 'Release', 'sockfd_node.node-abi');

// process.dlopen, as require() does for *.node: it takes any file name.
function loadAddonFile(path: string): NodeAddon {
  const module = { exports: {} as NodeAddon };
  process.dlopen(module, path);
  return module.exports;
}

function nodeAddonCandidates(): string[] {
  if (process.env.SOCKFD_NODE_ADDON) return [process.env.SOCKFD_NODE_ADDON];
  const candidates = process.env.PREBUILDS_ONLY ? [] : [nodeAddonBuildPath];
  candidates.push(join(nodeAddonPrebuildDir, `node.abi${process.versions.modules}.node`));
  return candidates;
}

// The NODE_MODULE_VERSION a build of sockfd_node says it is for
// (native/node/addon.cc's marker), read without loading it: a build for
// another Node fails in the dynamic linker before it could tell us.
function markedAbi(path: string): string | undefined {
  try {
    return /sockfd_node-abi:NODE_MODULE_VERSION=(\d+);/.exec(readFileSync(path, 'latin1'))?.[1];
  } catch {
    return undefined;
  }
}

// Why one candidate did not load, in a user's words.
function whyNotLoaded(path: string, error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const built = /using\s+NODE_MODULE_VERSION (\d+)/.exec(message);
  if (built) return `${path} is built for ${describeAbi(built[1]!)}`;
  return `${path} does not load: ${message.split('\n')[0]}`;
}

function prebuiltAbis(): string[] {
  if (!existsSync(nodeAddonPrebuildDir)) return [];
  return readdirSync(nodeAddonPrebuildDir)
    .map((file) => /^node\.abi(\d+)\.node$/.exec(file)?.[1])
    .filter((abi): abi is string => abi !== undefined)
    .sort((a, b) => Number(a) - Number(b));
}

/** Thrown by nodeAddon() when no build of sockfd_node matches the running Node. */
export class NodeAddonUnavailableError extends Error {
  /** Always 'ERR_SOCKFD_NODE_ADDON'. */
  readonly code = 'ERR_SOCKFD_NODE_ADDON';
  /** NODE_MODULE_VERSION the running Node needs. */
  readonly nodeModuleVersion: number = Number(process.versions.modules);
  override name = 'NodeAddonUnavailableError';
}

function unavailable(feature: string, reasons: string[]): NodeAddonUnavailableError {
  const abis = prebuiltAbis();
  const lines = [
    `${feature} needs sockfd's per-Node addon (sockfd_node) built for this Node, ` +
      `${process.version} (NODE_MODULE_VERSION ${process.versions.modules}), and there is none:`,
    ...reasons.map((reason) => `  - ${reason}`),
    abis.length === 0
      ? '  - this package holds no prebuilt sockfd_node'
      : `  - the prebuilt ones are for ${abis.map(describeAbi).join(', ')}`,
    `Build it for this Node with \`npm rebuild sockfd\` (in the project that installed sockfd; ` +
      `needs a C++ compiler, make and python3). Everything else in sockfd works without it.`,
  ];
  return new NodeAddonUnavailableError(lines.join('\n'));
}

let loadedNodeAddon: { addon: NodeAddon; path: string } | undefined;
let nodeAddonFailure: string[] | undefined;

/**
 * The per-ABI addon, loaded on first use; `feature` names what needs it in the
 * Error thrown when no build matches this Node (NodeAddonUnavailableError).
 * A failed attempt is remembered: the files do not change while we run.
 */
export function nodeAddon(feature: string): NodeAddon {
  return loadNodeAddon(feature).addon;
}

/** The file nodeAddon() loaded (the core's fork() finds the worker parking in it). */
export function nodeAddonPath(feature: string): string {
  return loadNodeAddon(feature).path;
}

function loadNodeAddon(feature: string): { addon: NodeAddon; path: string } {
  if (loadedNodeAddon !== undefined) return loadedNodeAddon;
  if (nodeAddonFailure === undefined) {
    const reasons: string[] = [];
    for (const path of nodeAddonCandidates()) {
      if (!existsSync(path)) {
        reasons.push(`${path} does not exist`);
        continue;
      }
      const marked = markedAbi(path);
      if (marked !== undefined && marked !== process.versions.modules) {
        reasons.push(`${path} is built for ${describeAbi(marked)}`);
        continue;
      }
      try {
        const addon = loadAddonFile(path);
        if (String(addon.builtFor?.nodeModuleVersion) !== process.versions.modules) {
          reasons.push(`${path} is built for ${describeAbi(String(addon.builtFor?.nodeModuleVersion))}`);
          continue;
        }
        loadedNodeAddon = { addon, path: realpathSync(path) };
        return loadedNodeAddon;
      } catch (error) {
        reasons.push(whyNotLoaded(path, error));
      }
    }
    nodeAddonFailure = reasons;
  }
  throw unavailable(feature, nodeAddonFailure);
}

/** The per-ABI addon, or undefined when no build matches (for optional speed-ups). */
export function tryNodeAddon(): NodeAddon | undefined {
  try {
    return nodeAddon('sockfd');
  } catch (error) {
    if (error instanceof NodeAddonUnavailableError) return undefined;
    throw error;
  }
}

/** What every set of V8 fast functions of sockfd_node has (native/node/v8_fast_api.h, ExportSet). */
export interface FastSet {
  available: boolean;
  reason?: string;
  /** Returned when a fast function did not take its arguments (no system call made). */
  FALLBACK: number;
}

/**
 * sockfd_node's fast-function set `property` (fastCalls, fastSocketCalls, fastClock), or
 * undefined with the reason it cannot be used in this process: SOCKFD_FAST_CALLS=0, no
 * sockfd_node for this Node, a build without that set (`what` names it), or the set's own
 * reason (another V8...).
 */
export function loadFastSet<T extends FastSet>(property: string, what: string): { fast: T | undefined; reason: string } {
  if (process.env.SOCKFD_FAST_CALLS === '0') return { fast: undefined, reason: 'disabled by SOCKFD_FAST_CALLS=0' };
  const addon = tryNodeAddon();
  if (addon === undefined) return { fast: undefined, reason: 'the per-Node addon sockfd_node is not built for this Node' };
  const fast = addon[property] as T | undefined;
  if (fast === undefined) return { fast: undefined, reason: `this build of sockfd_node has no ${what}` };
  if (!fast.available) return { fast: undefined, reason: fast.reason ?? 'unavailable' };
  return { fast, reason: '' };
}
