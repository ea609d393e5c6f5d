import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

/**
 * vdet's floors, read from the imports themselves (src/README.md draws them). A file may import its own folder and
 * any lower floor; never a higher one, never another folder of its own floor (roles never import roles; the
 * adapters stay apart), and nothing may import in a circle. The stages share a floor and may use one another
 * (results track with vision's tracker), as long as no circle forms.
 */
export const FLOORS: Readonly<Record<string, number>> = {
  platform: 0,
  contracts: 1,
  media: 2, vision: 2, results: 2,
  kafka: 3, store: 3, live: 3,
  runtime: 4,
  api: 5, processor: 5, detector: 5, merger: 5,
  detect: 6, client: 6, 'cli.ts': 7,
};
const STAGES = new Set(['media', 'vision', 'results']);

/**
 * The libraries behind an adapter or a stage, and the rooms that may import them: anywhere else they would leak
 * past the small interfaces those rooms offer.
 */
export const PACKAGE_ROOMS: Readonly<Record<string, { rooms: readonly string[] }>> = {
  kafkajs: { rooms: ['kafka'] },
  'onnxruntime-node': { rooms: ['vision'] },
  'fluent-ffmpeg': { rooms: ['media'] },
  sharp: { rooms: ['media'] },
  mongodb: { rooms: ['store'] },
  ioredis: { rooms: ['live', 'store', 'runtime'] },
};

export interface ImportEdge { from: string; to: string }

export interface ImportReport {
  files: string[];
  edges: ImportEdge[];
  /** Imports that break a floor rule, with the rule. */
  violations: { edge: ImportEdge; why: string }[];
  /** Each circle of files, as a list (the first file again at its end). */
  cycles: string[][];
  /** Lines of TypeScript per top-level folder of src/. */
  linesPerFolder: Record<string, number>;
  /** Imports of an adapter's or a stage's library outside its rooms. */
  packageImports: { file: string; pkg: string }[];
}

const PACKAGE_IMPORT = /(?:^|\s)(?:import|export)\s[^'"]*?from\s*['"]([^.'"][^'"]*)['"]/gm;
const IMPORT = /(?:^|\s)(?:import|export)\s[^'"]*?from\s*['"](\.{1,2}\/[^'"]+)['"]|import\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)|^import\s+['"](\.{1,2}\/[^'"]+)['"]/gm;

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return walk(full);
    return /\.tsx?$/.test(name) && !name.endsWith('.d.ts') ? [full] : [];
  });
}

/** The top-level folder of src/ a file lives in (`cli.ts` for the entry at src/'s root). */
export function folderOf(file: string, src = 'src'): string {
  const rel = path.relative(src, file).split(path.sep);
  return rel.length === 1 ? rel[0]! : rel[0]!;
}

export function readImportGraph(src = 'src'): ImportReport {
  const files = walk(src).sort();
  const known = new Set(files);
  const edges: ImportEdge[] = [];
  const linesPerFolder: Record<string, number> = {};
  const packageImports: ImportReport['packageImports'] = [];
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    const folder = folderOf(file, src);
    linesPerFolder[folder] = (linesPerFolder[folder] ?? 0) + text.split('\n').length;
    for (const m of text.matchAll(IMPORT)) {
      const spec = m[1] ?? m[2] ?? m[3]!;
      const target = path.normalize(path.join(path.dirname(file), spec)).replace(/\.js$/, '.ts');
      if (known.has(target)) edges.push({ from: file, to: target });
    }
    for (const m of text.matchAll(PACKAGE_IMPORT)) {
      const pkg = m[1]!.startsWith('@') ? m[1]!.split('/').slice(0, 2).join('/') : m[1]!.split('/')[0]!;
      const rule = PACKAGE_ROOMS[pkg];
      if (rule && !rule.rooms.includes(folder)) packageImports.push({ file, pkg });
    }
  }
  const violations: ImportReport['violations'] = [];
  for (const edge of edges) {
    const [a, b] = [folderOf(edge.from, src), folderOf(edge.to, src)];
    if (a === b) continue;
    const [fa, fb] = [FLOORS[a], FLOORS[b]];
    if (fa === undefined || fb === undefined) violations.push({ edge, why: `${fa === undefined ? a : b} has no floor (scripts/import-graph.ts)` });
    else if (fb > fa) violations.push({ edge, why: `${a} (floor ${fa}) imports ${b} (floor ${fb}), a higher floor` });
    else if (fb === fa && !(STAGES.has(a) && STAGES.has(b))) violations.push({ edge, why: `${a} imports ${b}, a folder of its own floor` });
  }
  return { files, edges, violations, cycles: cyclesOf(files, edges), linesPerFolder, packageImports };
}

/** Every strongly connected group of more than one file (or a file importing itself), as one circle through it. */
function cyclesOf(files: readonly string[], edges: readonly ImportEdge[]): string[][] {
  const next = new Map<string, string[]>(files.map((f) => [f, []]));
  for (const e of edges) next.get(e.from)!.push(e.to);
  // Tarjan's algorithm, iteratively.
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const groups: string[][] = [];
  let counter = 0;
  for (const root of files) {
    if (index.has(root)) continue;
    const work: { node: string; i: number }[] = [{ node: root, i: 0 }];
    index.set(root, counter); low.set(root, counter++); stack.push(root); onStack.add(root);
    while (work.length > 0) {
      const top = work.at(-1)!;
      const out = next.get(top.node)!;
      if (top.i < out.length) {
        const to = out[top.i++]!;
        if (!index.has(to)) {
          index.set(to, counter); low.set(to, counter++); stack.push(to); onStack.add(to);
          work.push({ node: to, i: 0 });
        } else if (onStack.has(to)) {
          low.set(top.node, Math.min(low.get(top.node)!, index.get(to)!));
        }
        continue;
      }
      work.pop();
      if (work.length > 0) low.set(work.at(-1)!.node, Math.min(low.get(work.at(-1)!.node)!, low.get(top.node)!));
      if (low.get(top.node) === index.get(top.node)) {
        const group: string[] = [];
        let n: string;
        do { n = stack.pop()!; onStack.delete(n); group.push(n); } while (n !== top.node);
        if (group.length > 1 || next.get(top.node)!.includes(top.node)) groups.push(circleThrough(group, next).concat(group.length > 2 ? [`(${group.length} files in all: ${group.sort().join(', ')})`] : []));
      }
    }
  }
  return groups;
}

/** A circle within a group: from its first file, a shortest way back to it. */
function circleThrough(group: readonly string[], next: ReadonlyMap<string, string[]>): string[] {
  const inGroup = new Set(group);
  const start = [...group].sort()[0]!;
  const previous = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const node = queue.shift()!;
    for (const to of next.get(node)!) {
      if (!inGroup.has(to)) continue;
      if (to === start) {
        const circle = [start];
        for (let n = node; n !== start; n = previous.get(n)!) circle.splice(1, 0, n);
        return [...circle, start];
      }
      if (!previous.has(to)) { previous.set(to, node); queue.push(to); }
    }
  }
  return [...group, group[0]!];
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const report = readImportGraph();
  const total = Object.values(report.linesPerFolder).reduce((a, b) => a + b, 0);
  for (const { edge, why } of report.violations) console.error(`${edge.from} → ${edge.to}: ${why}`);
  for (const cycle of report.cycles) console.error(`import circle: ${cycle.join(' → ')}`);
  const leaks = report.packageImports;
  for (const { file, pkg } of leaks) console.error(`${file} imports ${pkg}, which only ${PACKAGE_ROOMS[pkg]!.rooms.join(', ')} may`);
  const [largest, lines] = Object.entries(report.linesPerFolder).sort((x, y) => y[1] - x[1])[0]!;
  console.log(`imports: ${report.files.length} files, ${report.edges.length} imports, ${report.violations.length} across a floor, ${report.cycles.length} circles; largest folder src/${largest} ${lines} of ${total} lines (${Math.round((100 * lines) / total)} %); ${leaks.length} imports of an adapter's library outside its rooms`);
  if (report.violations.length > 0 || report.cycles.length > 0 || leaks.length > 0) process.exit(1);
}
