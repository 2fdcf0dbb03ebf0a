/**
 * `atomvisor race` as a user runs it: a separate process on a user-style test file, checking the
 * exit code (0 only without forbidden outcomes), the JSON report, and replaying a printed trace.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const repo = fileURLToPath(new URL('../../', import.meta.url));
const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', 'race', ...args],
      { cwd: repo, timeout: 60_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'atomvisor-race-cli-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('atomvisor race FILE', () => {
  it('exits 1 on the buggy counter, prints the failure and a replayable trace', async () => {
    const json = join(dir, 'buggy.json');
    const r = await cli([
      fixture('counter-buggy.ts'),
      '--time',
      '0.5',
      '--seed',
      '5',
      '--json',
      json,
    ]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toContain('FORBIDDEN');
    expect(r.stdout).toContain('a hit was lost');
    const report = JSON.parse(await readFile(json, 'utf8'));
    expect(report.ok).toBe(false);
    const explore = report.tests.find((t: { mode: string }) => t.mode === 'explore');
    expect(explore.firstForbidden.id).toBe('1');
    const trace: string = explore.firstForbidden.trace;
    expect(r.stdout).toContain(`--replay ${trace}`);

    const replay = await cli([fixture('counter-buggy.ts'), '--replay', trace, '--repeat', '10']);
    expect(replay.code).toBe(1);
    expect(replay.stdout).toContain('the same outcome every time: 1');
  });

  it('exits 0 on the fixed counter', async () => {
    const r = await cli([fixture('counter-fixed.ts'), '--time', '0.5', '--seed', '5']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/2 test runs: 2 ok, 0 with forbidden outcomes, 0 errors/);
    expect(r.stdout).toMatch(/explore mode [\d,]+ scheduling steps\/s/);
  });

  it('exits 2 on bad usage, 1 on a file that cannot be loaded', async () => {
    expect((await cli(['--mode', 'sideways'])).code).toBe(2);
    expect((await cli(['--replay', 'not-a-trace'])).code).toBe(2);
    const missing = await cli([join(dir, 'nope.ts'), '--time', '0.2']);
    expect(missing.code).toBe(1);
    expect(missing.stdout).toContain('ERR_ATOMVISOR_RACE_LOAD');
  });
});
