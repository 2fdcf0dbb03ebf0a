/**
 * scripts/check-cycles.mjs (run by `npm test`) on small trees written for the occasion: it finds a
 * circle of runtime imports, a circle closed only by a type import, and a dynamic import; an
 * import written in a comment is no edge; a tree without circles passes. And the repo passes.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), '../../scripts/check-cycles.mjs');
const scratch = mkdtempSync(join(tmpdir(), 'atomvisor-cycles-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

let trees = 0;
function tree(files: Record<string, string>): string {
  const dir = join(scratch, `t${trees++}`);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

function check(...dirs: string[]): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, [SCRIPT, ...dirs], { encoding: 'utf8' });
  return { status: r.status, out: r.stdout + r.stderr };
}

describe('check-cycles', () => {
  it('passes a tree whose imports run one way, whatever the comments say', () => {
    const dir = tree({
      'a.ts': "import { b } from './b.ts';\nexport const a = b;\n",
      'b.ts': "// import { a } from './a.ts';\n/* export * from './a.ts' */\nexport const b = 1;\n",
    });
    const r = check(dir);
    expect(r.out).toContain('import cycles: none (2 modules');
    expect(r.status).toBe(0);
  });

  it('fails on a circle of runtime imports across folders, naming every edge', () => {
    const dir = tree({
      'x/a.ts': "import { c } from '../y/c.ts';\nexport const a = c;\n",
      'x/b.ts': "export { a } from './a.ts';\n",
      'y/c.ts': "import {\n  b,\n} from '../x/b.ts';\nexport const c = b;\n",
    });
    const r = check(dir);
    expect(r.status).toBe(1);
    expect(r.out).toContain('circle of 3');
    expect(r.out).toMatch(/x\/a\.ts -> .*y\/c\.ts/);
    expect(r.out).toMatch(/y\/c\.ts -> .*x\/b\.ts/);
    expect(r.out).toMatch(/x\/b\.ts -> .*x\/a\.ts/);
  });

  it('counts type-only and dynamic imports too', () => {
    const types = tree({
      'a.ts': "import type { B } from './b.ts';\nexport type A = B;\n",
      'b.ts': "import { type A } from './a.ts';\nexport type B = A | 1;\n",
    });
    expect(check(types).status).toBe(1);
    const dynamic = tree({
      'a.ts': "export const load = () => import('./b.ts');\n",
      'b.ts': "import { load } from './a.ts';\nexport const again = load;\n",
    });
    expect(check(dynamic).status).toBe(1);
  });

  it('finds no circle in this repository', () => {
    const r = check();
    expect(r.out).toContain('import cycles: none');
    expect(r.status).toBe(0);
  });
});
