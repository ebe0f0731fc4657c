// The two addons are found and told apart: node-gyp-build must load the N-API
// core (never the per-ABI sockfd_node, which sits in the same build/Release),
// and the per-ABI addon loads only when it matches the running Node, else its
// features throw an Error that says what to do while the rest keeps working.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { existsSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { nodeAddon, nodeAddonBuildPath, packageRoot } from '../lib/native.js';

const require = createRequire(import.meta.url);
const nodeGypBuild = require('node-gyp-build') as { path(dir: string): string };

// Runs `source` (an ES module) in a fresh Node with `env` added.
function runModule(source: string, env: Record<string, string> = {}) {
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', source], {
    cwd: packageRoot,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { status: child.status, signal: child.signal, stdout: child.stdout, stderr: child.stderr };
}

describe('the core addon', () => {
  it('is what node-gyp-build picks from build/Release, never the per-ABI addon next to it', () => {
    // node-gyp-build takes the first *.node file there: the per-ABI one is *.node-abi.
    expect(readdirSync(join(packageRoot, 'build/Release')).filter((f) => f.endsWith('.node'))).toEqual(['sockfd.node']);
    expect(existsSync(join(packageRoot, 'build/Release/sockfd_node.node-abi'))).toBe(true);
    expect(basename(nodeGypBuild.path(packageRoot))).toBe('sockfd.node');
  });
});

describe('the per-ABI addon', () => {
  it('loads the build for this Node and says which Node it was built for', () => {
    expect(existsSync(nodeAddonBuildPath)).toBe(true);
    expect(nodeAddon('test').builtFor).toEqual({
      nodeModuleVersion: Number(process.versions.modules),
      nodeVersion: process.versions.node,
    });
  });

  it('when missing: its feature throws an Error naming this Node and `npm rebuild`, the core keeps working', () => {
    const result = runModule(
      `import { nodeAddon } from './dist/lib/native.js';
       import { socket, close, AF_INET, SOCK_STREAM } from './dist/lib/index.js';
       let error;
       try { nodeAddon('fork()'); } catch (e) { error = e; }
       const fd = socket(AF_INET, SOCK_STREAM, 0);
       close(fd);
       console.log(JSON.stringify({ name: error?.name, code: error?.code, message: error?.message, fd }));`,
      { SOCKFD_NODE_ADDON: '/nonexistent/sockfd_node.node' },
    );
    expect(result.signal).toBeNull();
    expect(result.status, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as { name: string; code: string; message: string; fd: number };
    expect(report.code).toBe('ERR_SOCKFD_NODE_ADDON');
    expect(report.name).toBe('NodeAddonUnavailableError');
    expect(report.message).toContain(`fork() needs sockfd's per-Node addon (sockfd_node) built for this Node, ${process.version}`);
    expect(report.message).toContain(`NODE_MODULE_VERSION ${process.versions.modules}`);
    expect(report.message).toContain('/nonexistent/sockfd_node.node does not exist');
    expect(report.message).toContain('npm rebuild sockfd');
    expect(report.fd).toBeGreaterThan(2);
  });

});
