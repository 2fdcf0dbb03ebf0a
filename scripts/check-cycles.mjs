// Fails when the modules of src/, bench/, workers/ and test/ import each other in a circle.
//
//   node scripts/check-cycles.mjs [DIR...]      (npm test runs it; prints each circle it finds)
//
// Every relative `import … from`, `export … from`, `import '…'` and `import('…')` with a literal
// specifier counts, type-only imports included: a circle of types is still two modules that
// cannot be read (or moved) one without the other. Comments and string contents are stripped
// first, so an import written in a doc comment draws no edge. No dependency: the project's
// imports are all static, relative and spelled with their extension (tsconfig
// allowImportingTsExtensions), so text is enough.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dirs = process.argv.length > 2 ? process.argv.slice(2) : ['src', 'bench', 'workers', 'test'];
const SOURCE = /\.(?:ts|mts|mjs|js)$/;

function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (name === 'node_modules') continue;
    if (statSync(path).isDirectory()) walk(path, out);
    else if (SOURCE.test(name) && !name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

/** The text with comments blanked and template/string bodies kept (specifiers live in strings). */
function stripComments(text) {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    const next = text[i + 1];
    if (c === '/' && next === '/') {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (c === '/' && next === '*') {
      const end = text.indexOf('*/', i + 2);
      i = end < 0 ? text.length : end + 2;
      out += ' ';
    } else if (c === "'" || c === '"' || c === '`') {
      let j = i + 1;
      while (j < text.length && text[j] !== c) j += text[j] === '\\' ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j + 1;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

const IMPORT =
  /(?:^|[;\s}])(?:import|export)\s+(?:type\s+)?(?:[\w*{}\s,$]+?\s+from\s+)?['"](\.{1,2}\/[^'"]+)['"]|\bimport\s*\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g;

function importsOf(file) {
  const text = stripComments(readFileSync(file, 'utf8'));
  const found = new Set();
  for (const m of text.matchAll(IMPORT)) {
    const spec = m[1] ?? m[2];
    let target = resolve(dirname(file), spec);
    if (!existsSync(target) && existsSync(target.replace(/\.js$/, '.ts')))
      target = target.replace(/\.js$/, '.ts');
    if (existsSync(target) && statSync(target).isFile()) found.add(target);
  }
  return [...found];
}

const files = dirs.flatMap((d) => (existsSync(resolve(root, d)) ? walk(resolve(root, d), []) : []));
const graph = new Map(files.map((f) => [f, importsOf(f).filter((t) => SOURCE.test(t))]));

// Tarjan's strongly connected components: every component of more than one file (or a file that
// imports itself) is a circle.
let index = 0;
const stack = [];
const state = new Map();
const circles = [];
function connect(v) {
  const s = { index, low: index, onStack: true };
  index++;
  state.set(v, s);
  stack.push(v);
  for (const w of graph.get(v) ?? []) {
    const t = state.get(w);
    if (t === undefined) {
      connect(w);
      s.low = Math.min(s.low, state.get(w).low);
    } else if (t.onStack) s.low = Math.min(s.low, t.index);
  }
  if (s.low === s.index) {
    const component = [];
    let w;
    do {
      w = stack.pop();
      state.get(w).onStack = false;
      component.push(w);
    } while (w !== v);
    if (component.length > 1 || (graph.get(v) ?? []).includes(v)) circles.push(component);
  }
}
for (const f of graph.keys()) if (!state.has(f)) connect(f);

const rel = (f) => relative(root, f);
if (circles.length === 0) {
  console.log(`import cycles: none (${graph.size} modules in ${dirs.join(', ')})`);
} else {
  console.error(`import cycles: ${circles.length}`);
  for (const component of circles) {
    const members = new Set(component);
    console.error(`  circle of ${component.length}: ${component.map(rel).sort().join(', ')}`);
    for (const f of [...component].sort()) {
      for (const t of graph.get(f) ?? [])
        if (members.has(t)) console.error(`    ${rel(f)} -> ${rel(t)}`);
    }
  }
  process.exitCode = 1;
}
