/** `atomvisor bench` flags: each bad one is refused with a message naming it, exit code 2. */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { BenchUsageError, parseBenchArgs } from '../../bench/main.ts';
import { SUITE_NAMES } from '../../bench/suites/index.ts';

describe('bench CLI flags', () => {
  it('parses the documented flags', () => {
    const cli = parseBenchArgs([
      '--full',
      '--suite',
      'primitives,channel',
      '--threads',
      '4,1,2',
      '--json',
      'x.json',
      '--out',
      'o',
    ]);
    expect(cli.profile).toEqual({ name: 'full', threads: [1, 2, 4] });
    expect(cli.suites).toEqual(['primitives', 'channel']);
    expect(cli.json).toBe('x.json');
    expect(cli.out).toMatch(/o$/);
    expect(parseBenchArgs([]).profile).toEqual({ name: 'quick', threads: [1, 2, 4] });
    expect(parseBenchArgs(['--full']).profile.threads).toEqual([1, 2, 4, 8]);
    // No --suite: every suite, in the order the runner lists them.
    expect(parseBenchArgs([]).suites).toEqual([...SUITE_NAMES]);
    expect(SUITE_NAMES).toContain('request-path');
  });

  it.each([
    [['--bogus'], /--bogus/],
    [['--suite', 'nope'], /--suite.*nope/],
    [['--threads', '0'], /--threads.*"0"/],
    [['--threads', 'two'], /--threads.*"two"/],
    [['--threads', ''], /--threads/],
    [['--full', '--quick'], /--full and --quick/],
    [['--json'], /--json/],
    [['stray'], /stray/],
  ])('refuses %j', (argv, message) => {
    expect(() => parseBenchArgs(argv)).toThrow(BenchUsageError);
    expect(() => parseBenchArgs(argv)).toThrow(message);
  });

  it('the command exits 2 with the flag named on stderr', () => {
    const run = spawnSync(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', 'bench', '--threads', '1,x'],
      { encoding: 'utf8', timeout: 30_000 },
    );
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/--threads: "x" is not a thread count/);
    expect(run.stderr).toMatch(/usage: atomvisor bench/);
    const help = spawnSync(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', 'bench', '--help'],
      {
        encoding: 'utf8',
        timeout: 30_000,
      },
    );
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/--suite a,b/);
  });
});
