// Every public export of the package's type declarations has a doc comment:
// functions, classes and their public members, interfaces and type aliases, and
// every option of an options object (an interface or object type named *Options). Public = reachable from an entry of
// package.json `exports` through `export * from` / `export { } from`. The one
// exemption: the constants generated from the system headers (lib/constants.ts),
// which are the C names themselves (docs/api.md says where they come from).
//
// The .d.ts files are the ones tsc wrote to dist/ (`npm test` runs tsc first),
// read line by line: tsc prints one declaration or member per line.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '..');

interface Finding {
  file: string;
  line: number;
  name: string;
}

// Braces opened minus closed on a line, outside strings and comments.
function braceDelta(line: string): number {
  let delta = 0;
  let quote: string | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote !== null) {
      if (c === '\\') i++;
      else if (c === quote) quote = null;
    } else if (c === '"' || c === "'" || c === '`') quote = c;
    else if (c === '/' && line[i + 1] === '/') break;
    else if (c === '{') delta++;
    else if (c === '}') delta--;
  }
  return delta;
}

const topLevel =
  /^export\s+(?:declare\s+)?(?:abstract\s+)?(function|class|const|let|var|interface|type|enum|namespace)\s+([A-Za-z_$][\w$]*)/;
const member =
  /^(?:(?:public|static|readonly|abstract|declare|override|accessor|async|get|set)\s+)*(\[[^\]:]+\]|[A-Za-z_$][\w$]*|'[^']+'|"[^"]+")\??\s*[(<:;=]/;

interface Scan {
  undocumented: Finding[];
  reexports: { names: string[] | 'all'; from: string }[];
  declared: Set<string>;
}

function scan(file: string, exempt: Set<string>): Scan {
  const lines = readFileSync(file, 'utf8').split('\n');
  const result: Scan = { undocumented: [], reexports: [], declared: new Set() };
  let depth = 0;
  let inComment = false;
  let commentIsDoc = false;
  let documented = false; // the previous code-free lines ended a /** */ comment
  // The exported class, interface or object type whose members are being read.
  let container: { depth: number; documentedMembers: Set<string>; derived: boolean } | null = null;
  const seenTop = new Set<string>();
  const importedFrom = new Map<string, string>();
  const report = (index: number, name: string) =>
    result.undocumented.push({ file: file.slice(root.length + 1), line: index + 1, name });

  lines.forEach((raw, index) => {
    const text = raw.trim();
    if (inComment) {
      if (text.includes('*/')) {
        inComment = false;
        documented = commentIsDoc;
      }
      return;
    }
    if (text.startsWith('/*')) {
      commentIsDoc = text.startsWith('/**');
      if (text.includes('*/')) documented = commentIsDoc;
      else inComment = true;
      return;
    }
    if (text === '' || text.startsWith('//')) return;

    if (depth === 0) {
      const all = /^export \* from '([^']+)';/.exec(text);
      const some = /^export (?:type )?\{([^}]*)\}(?: from '([^']+)')?;/.exec(text);
      const declaration = topLevel.exec(text);
      const imported = /^import (?:type )?\{([^}]*)\} from '([^']+)';/.exec(text);
      const names = (list: string) => list.split(',').map((n) => n.trim().split(/\s+as\s+/).pop()!).filter(Boolean);
      if (imported) for (const name of names(imported[1]!)) importedFrom.set(name, imported[2]!);
      if (all) result.reexports.push({ names: 'all', from: all[1]! });
      else if (some && some[2]) result.reexports.push({ names: names(some[1]!), from: some[2] });
      else if (some) {
        // `import { X } from './x.js'; export { X };` makes X public from x.
        for (const name of names(some[1]!)) {
          const from = importedFrom.get(name);
          if (from !== undefined) result.reexports.push({ names: [name], from });
        }
      } else if (declaration) {
        const [, kind, name] = declaration as unknown as [string, string, string];
        result.declared.add(name);
        const firstOfName = !seenTop.has(name); // overloads: the first signature carries the doc
        seenTop.add(name);
        if (firstOfName && !documented && !exempt.has(name)) report(index, `${kind} ${name}`);
        // Members that need a doc: a class's public ones, and the options of an
        // options object (an interface or object type named *Options).
        const isOptions = /Options$/.test(name) && (kind === 'interface' || (kind === 'type' && text.endsWith('{')));
        const opensBody = kind === 'class' || isOptions;
        if (opensBody && braceDelta(text) > 0) container = { depth: 1, documentedMembers: new Set(), derived: /\sextends\s/.test(text) };
      }
    } else if (container !== null && depth === container.depth && !/^(private|protected)\s/.test(text) && !text.startsWith('#')) {
      const match = member.exec(text);
      const name = match?.[1];
      // A subclass's `name` (an Error's, say) is the base class's member, documented there.
      const inherited = container.derived && name === 'name';
      if (name !== undefined && !text.startsWith('}') && !inherited) {
        const qualified = `${lines.slice(0, index).reverse().find((l) => topLevel.test(l.trim()))?.trim().match(topLevel)?.[2]}.${name}`;
        if (documented) container.documentedMembers.add(name);
        else if (!container.documentedMembers.has(name)) {
          // A setter, or a further overload, of a documented name is covered by that doc.
          report(index, qualified);
          container.documentedMembers.add(name);
        }
      }
    }
    documented = false;
    depth += braceDelta(text);
    if (container !== null && depth < container.depth) container = null;
  });
  return result;
}

function declarationFile(from: string, specifier: string): string {
  const target = join(dirname(from), specifier.replace(/\.js$/, '.d.ts'));
  if (!existsSync(target)) throw new Error(`${from}: cannot find ${specifier}`);
  return target;
}

// Every .d.ts reachable from the package's entry points, with the names it exports.
function publicFindings(): { findings: Finding[]; files: string[] } {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
    exports: Record<string, string | { types?: string }>;
  };
  const entries = Object.values(pkg.exports)
    .map((entry) => (typeof entry === 'string' ? undefined : entry.types))
    .filter((types): types is string => types !== undefined)
    .map((types) => join(root, types));
  const exempt = new Set(scan(join(root, 'dist/lib/constants.d.ts'), new Set()).declared);
  const findings: Finding[] = [];
  const visited = new Set<string>();
  const queue = [...entries];
  while (queue.length > 0) {
    const file = queue.shift()!;
    if (visited.has(file) || file.endsWith('constants.d.ts')) continue;
    visited.add(file);
    const result = scan(file, exempt);
    findings.push(...result.undocumented);
    // `export { a, b } from` makes only those names public: check them in their file.
    for (const reexport of result.reexports) {
      const target = declarationFile(file, reexport.from);
      if (reexport.names === 'all') queue.push(target);
      else {
        const names = new Set(reexport.names);
        const owner = (f: Finding) => (f.name.includes(' ') ? f.name.split(' ')[1]! : f.name.split('.')[0]!);
        findings.push(...scan(target, exempt).undocumented.filter((f) => names.has(owner(f))));
      }
    }
  }
  return { findings, files: [...visited] };
}

describe('the public .d.ts', () => {
  it('reaches every public module from package.json exports', () => {
    const { files } = publicFindings();
    const names = files.map((f) => f.slice(root.length + 1));
    expect(names).toEqual(expect.arrayContaining(['dist/lib/index.d.ts', 'dist/lib/posix.d.ts', 'dist/lib/socket.d.ts']));
  });

  it('has a doc comment on every public function, class, member, type and option', () => {
    const missing = publicFindings().findings.map((f) => `${f.file}:${f.line} ${f.name}`);
    expect(missing).toEqual([]);
  });
});

describe('the doc-comment scanner', () => {
  it('finds an undocumented export, member and option, and accepts documented ones', async () => {
    const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'sockfd-dts-'));
    try {
      const file = join(dir, 'sample.d.ts');
      writeFileSync(
        file,
        [
          '/** Documented. */',
          'export declare function good(): void;',
          'export declare function bad(): void;',
          '/** A class. */',
          'export declare class Thing {',
          '    #private;',
          '    /** Fine. */',
          '    get value(): number;',
          '    set value(v: number);',
          '    bind(address: { a: number;',
          '        b: string }): this;',
          '    private hidden;',
          '}',
          '/** Options. */',
          'export interface ThingOptions {',
          '    /** Fine. */',
          '    timeout?: number;',
          '    signal?: AbortSignal;',
          '}',
          '/** A result: its fields need no doc of their own. */',
          'export interface Result {',
          '    bytes: number;',
          '}',
          'export type Family = "A" | "B";',
        ].join('\n'),
      );
      const names = scan(file, new Set()).undocumented.map((f) => f.name);
      expect(names).toEqual(['function bad', 'Thing.bind', 'ThingOptions.signal', 'type Family']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
