// TurboFan's inlining of one function, read from V8's --trace-turbo-inlining
// (V8 11.3 / Node 20's format): which call sites of a loop a compile inlined
// and which candidates it left out of line (its cumulative inlining budget,
// --max-inlined-bytecode-size-cumulative, 920 bytes there). For the tests that
// guard a bench loop's fit in that budget (test/pingpong-round.test.ts,
// test/async-echo-round.test.ts).

/** Synchronous compiles: the trace of one compile is not interleaved with the main thread's output. */
export const traceFlags: string[] = ['--trace-turbo-inlining', '--trace-opt', '--no-concurrent-osr', '--no-concurrent-recompilation'];

/** What one TurboFan compile of a function inlined (from --trace-turbo-inlining). */
export interface InliningOfCompile {
  osr: boolean;
  /** Inlined call sites by callee name. */
  inlined: Record<string, number>;
  /** Callees the heuristic listed as candidates at more call sites than it inlined (name: sites left out of line). */
  outOfLine: Record<string, number>;
}

/**
 * The compiles of function `root` in a --trace-turbo-inlining --trace-opt trace (synchronous compiles).
 * A candidate call site is "- candidate: JSCall node #N" (JSConstruct for a `new`) with its "- target: ... <SharedFunctionInfo NAME>";
 * every inlining into `root` prints "Inlining ... <SharedFunctionInfo NAME> into ... <SharedFunctionInfo root>",
 * small functions without being candidates first.
 */
export function inliningOf(trace: string, root: string): InliningOfCompile[] {
  const compiles: { osr: boolean; inlined: Record<string, number>; sites: Map<string, Set<string>> }[] = [];
  let current: (typeof compiles)[number] | undefined;
  let site: string | undefined;
  for (const line of trace.split('\n')) {
    let m: RegExpExecArray | null;
    if ((m = /^\[compiling method .*<JSFunction (\S+) /.exec(line))) {
      current = m[1] === root ? { osr: / OSR,/.test(line), inlined: {}, sites: new Map() } : undefined;
      if (current) compiles.push(current);
    } else if (!current) continue;
    else if ((m = /^- candidate: JS(?:Call|Construct) node #(\d+)/.exec(line))) site = m[1];
    else if ((m = /^ {2}- target: .*<SharedFunctionInfo ([^>]+)>}, bytecode size: \d+/.exec(line)) && site !== undefined) {
      const sites = current.sites.get(m[1]!) ?? new Set<string>();
      current.sites.set(m[1]!, sites.add(site));
    } else if ((m = /^Inlining .*<SharedFunctionInfo ([^>]+)>} into .*<SharedFunctionInfo ([^>]+)>}/.exec(line)) && m[2] === root)
      current.inlined[m[1]!] = (current.inlined[m[1]!] ?? 0) + 1;
  }
  return compiles.map(({ osr, inlined, sites }) => {
    const outOfLine: Record<string, number> = {};
    for (const [name, at] of sites) if (at.size > (inlined[name] ?? 0)) outOfLine[name] = at.size - (inlined[name] ?? 0);
    return { osr, inlined, outOfLine };
  });
}

