/**
 * Wrong tests get clear, typed reports, and no run hangs: non-shareable state, an actor that
 * throws, one that never returns, one that waits for ever, an outcome nobody listed, an async
 * actor in explore mode. Real actor threads throughout.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/errors.ts';
import type { RaceMode, RaceTest } from '../../src/race/define.ts';
import { defineRaceTest } from '../../src/race/define.ts';
import { loadTests } from '../../src/race/load.ts';
import { RaceRunner } from '../../src/race/runner.ts';
import type { TestReport } from '../../src/race/test-report.ts';

const FILE = new URL('./fixtures/bad-input.ts', import.meta.url).href;
const runner = new RaceRunner();
afterAll(() => runner.close());

let tests: RaceTest[] | undefined;
async function run(name: string, mode: RaceMode, timeMs = 300): Promise<TestReport> {
  tests ??= await loadTests(FILE);
  const test = tests.find((t) => t.name === name);
  if (!test) throw new Error(`no fixture ${name}`);
  return runner.run(FILE, test, { mode, seed: 1, timeMs, strategy: 'random' });
}

describe('non-shareable setup state', () => {
  for (const [name, path, words] of [
    ['bad/class-instance-in-state', 'state.lock', /Mutex instance .* \.handle/],
    ['bad/function-in-state', 'state.nested.callback', /function cannot be posted/],
    ['bad/array-buffer-in-state', 'state.words', /Int32Array over an ArrayBuffer .* not shared/],
  ] as const) {
    it(`${name}: a typed error naming ${path}`, async () => {
      for (const mode of ['explore', 'stress'] as const) {
        const r = await run(name, mode);
        expect(r.status).toBe('error');
        expect(r.error?.code).toBe('ERR_ATOMVISOR_INVALID_ARGUMENT');
        expect(r.error?.message).toContain(path);
        expect(r.error?.message).toMatch(words);
        expect(r.trials).toBe(0);
      }
    });
  }
});

describe('actors that misbehave', () => {
  it('an actor that throws is an error outcome (forbidden unless listed), not a crash', async () => {
    for (const mode of ['explore', 'stress'] as const) {
      const r = await run('bad/actor-throws', mode);
      expect(r.status).toBe('failed');
      expect(r.trials).toBeGreaterThan(10);
      const row = r.outcomes.find((o) => o.id.includes('error:RangeError'));
      expect(row?.expect).toBe('forbidden');
      expect(row?.sample.detail).toContain('actor 1 threw RangeError: boom');
    }
  });

  it('an actor that never returns is a per-trial timeout, and the run ends', async () => {
    for (const mode of ['explore', 'stress'] as const) {
      const started = performance.now();
      const r = await run('bad/actor-never-returns', mode, 10_000);
      expect(performance.now() - started).toBeLessThan(8000);
      expect(r.status).toBe('failed');
      const row = r.outcomes.find((o) => o.id === 'timeout');
      expect(row?.expect).toBe('forbidden');
      expect(row?.sample.detail).toMatch(/400 ms without progress/);
      expect(row?.sample.detail).toMatch(/actor 1/);
    }
    // the runner recovers: the next test gets fresh threads
    const after = await run('bad/unknown-outcome-tolerated', 'stress');
    expect(after.trials).toBeGreaterThan(0);
  });

  it('an actor waiting for ever: a deadlock in explore mode, a timeout in stress mode', async () => {
    const explore = await run('bad/actor-waits-forever', 'explore');
    expect(explore.outcomes.map((o) => o.id)).toContain('deadlock');
    expect(explore.outcomes.find((o) => o.id === 'deadlock')?.sample.detail).toMatch(
      /actor 0 blocked in Atomics\.wait on buffer #0 at byte 0/,
    );
    const stress = await run('bad/actor-waits-forever', 'stress', 10_000);
    expect(stress.outcomes.map((o) => o.id)).toContain('timeout');
  });

  it('an async actor is refused in explore mode with a typed error outcome', async () => {
    const r = await run('bad/async-actor', 'explore');
    expect(r.outcomes[0]?.id).toBe('error:ERR_ATOMVISOR_RACE_UNSUPPORTED');
    const stress = await run('bad/async-actor', 'stress');
    expect(stress.status).toBe('passed'); // stress mode awaits it
  });
});

describe('outcome ids nobody listed', () => {
  it('are graded by defaultExpect (forbidden by default) and reported as unlisted', async () => {
    const strict = await run('bad/unknown-outcome', 'explore');
    expect(strict.status).toBe('failed');
    expect(strict.outcomes).toEqual([
      expect.objectContaining({ id: 'surprise', expect: 'forbidden', listed: false }),
    ]);
    const tolerant = await run('bad/unknown-outcome-tolerated', 'explore');
    expect(tolerant.status).toBe('passed');
    expect(tolerant.outcomes).toEqual([
      expect.objectContaining({ id: 'surprise', expect: 'interesting', listed: false }),
    ]);
  });
});

describe('bad definitions', () => {
  it('are refused at definition time with InvalidArgumentError naming the field', () => {
    const attempts: [() => unknown, string][] = [
      [
        () => defineRaceTest({ name: '', setup: () => ({}), actors: [() => 1], outcomes: [] }),
        'name',
      ],
      [
        () => defineRaceTest({ name: 't', setup: () => ({}), actors: [], outcomes: [] }),
        'test "t": actors',
      ],
      [
        () =>
          defineRaceTest({
            name: 't',
            setup: () => ({}),
            actors: [() => 1],
            outcomes: [{ id: 'x', expect: 'fine' as 'acceptable' }],
          }),
        'test "t": outcomes[0].expect',
      ],
      [
        () =>
          defineRaceTest({
            name: 't',
            setup: () => ({}),
            actors: [() => 1],
            outcomes: [],
            faults: { kill: 2 },
          }),
        'test "t": faults.kill',
      ],
    ];
    for (const [attempt, field] of attempts) {
      try {
        attempt();
        expect.unreachable(field);
      } catch (error) {
        expect(error).toBeInstanceOf(InvalidArgumentError);
        expect((error as InvalidArgumentError).field).toBe(field);
      }
    }
  });
});
