/**
 * The benchmark runner end to end on a fixture suite and on a shrunk real suite: each case in its
 * own process, a crashing or hanging case reported as failed (with its stderr) while the run goes
 * on, a missing suite reported as not available, and the three report files with every field the
 * issue asks for.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { writeReports } from '../../bench/report/index.ts';
import { runBench } from '../../bench/runner.ts';

const FAKE = fileURLToPath(new URL('./fixtures/fake-suite.ts', import.meta.url));
const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'atomvisor-bench-test-'));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const REQUIRED = [
  'suite',
  'case',
  'design',
  'threads',
  'workload',
  'unit',
  'median',
  'ciLow',
  'ciHigh',
  'samples',
] as const;

describe('bench runner', () => {
  it('runs each case in its own process, reports crashes and timeouts as failed and goes on', async () => {
    const result = await runBench({
      profile: { name: 'quick', threads: [1, 2] },
      suites: [FAKE, 'no-such-suite.ts'],
      caseTimeoutMs: (c) => (c.id === 'hang' ? 1_500 : 30_000),
    });
    // The measuring cases ran, in other processes than this one, and the one after the failures too.
    const cases = new Set(result.measurements.map((m) => m.case));
    expect(cases).toEqual(new Set(['ok', 'after']));
    expect(result.measurements.every((m) => m.extra?.pid !== process.pid)).toBe(true);
    expect(result.failures.map((f) => f.case).sort()).toEqual(['crash', 'hang']);
    const crash = result.failures.find((f) => f.case === 'crash');
    expect(crash?.reason).toMatch(/exited with code/);
    expect(crash?.stderrTail).toMatch(/planted crash/);
    expect(result.failures.find((f) => f.case === 'hang')?.reason).toMatch(/timed out/);
    const missing = result.suites.find((s) => s.name === 'no-such-suite.ts');
    expect(missing?.status).toBe('not available');
    expect(result.targets).toEqual([
      expect.objectContaining({ suite: 'fake', id: 'fake-target', met: true }),
    ]);

    const dir = tempDir();
    writeReports(result, dir);
    const json = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8'));
    expect(json.failures).toHaveLength(2);
    const md = readFileSync(join(dir, 'report.md'), 'utf8');
    expect(md).toMatch(/## Failed cases/);
    expect(md).toMatch(/planted crash/);
    expect(md).toMatch(/no-such-suite\.ts/);
    // Ratios side by side: atomic at 2 threads is 42/9 ≈ 4.67× the mutex.
    expect(md).toMatch(/4\.67×/);
  }, 60_000);

  it('a shrunk primitives run writes results.json, report.md and a self-contained report.html', async () => {
    const dir = tempDir();
    const result = await runBench({
      profile: { name: 'quick', threads: [1, 2], scale: 0.05 },
      suites: ['primitives'],
    });
    expect(result.failures).toEqual([]);
    writeReports(result, dir);
    for (const f of ['results.json', 'report.md', 'report.html']) {
      expect(existsSync(join(dir, f))).toBe(true);
    }
    const json = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8'));
    expect(json.measurements.length).toBeGreaterThan(5);
    for (const m of json.measurements) {
      for (const field of REQUIRED)
        expect(m, `${m.case} ${m.design}: ${field}`).toHaveProperty(field);
      if (m.samples > 0) expect(m.median).toBeGreaterThan(0);
      expect(m.environment).toMatchObject({ node: process.version, cores: expect.any(Number) });
    }
    for (const field of [
      'node',
      'v8',
      'cpu',
      'cores',
      'os',
      'date',
      'atomicsPause',
      'timerResolutionNs',
    ]) {
      expect(json.environment).toHaveProperty(field);
    }
    expect(json.targets.map((t: { id: string }) => t.id)).toContain('snapshot-vs-load');
    const html = readFileSync(join(dir, 'report.html'), 'utf8');
    expect(html).toMatch(/<svg[\s>]/);
    expect(html).not.toMatch(/https?:/);
    expect(html).not.toMatch(/<script|<link/);
  }, 90_000);
});
