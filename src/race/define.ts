/**
 * Declaring race tests (jcstress style): `defineRaceTest`, `defineStressTest` and
 * `defineLinearizabilityTest`. A test is plain data plus functions; nothing here starts a thread.
 *
 * Functions cannot be posted to workers, so the unit the harness runs is a test FILE: every actor
 * worker imports the file itself and picks the test by name and the actor by index. A file
 * default-exports one test or an array of them; names must be unique within a file.
 *
 * Outcome ids. Each actor's result and then the arbiter's result are formatted (formatValue) and
 * joined by ','; `undefined` results are left out, so actors that return nothing do not clutter
 * the id. `outcomes` is searched in order and the first entry whose id matches (exact string, or a
 * RegExp tested against the whole id) grades the trial; unlisted ids get `defaultExpect`
 * ('forbidden' unless set, as in jcstress).
 *
 * Harness outcomes — 'timeout', 'deadlock', 'livelock' and ids containing 'error:' — are graded
 * by an entry that matches them, and are forbidden otherwise whatever `defaultExpect` says: a hang
 * or a crash is never acceptable by accident.
 */
import { InvalidArgumentError } from '../errors.ts';
import { MAX_ACTORS, MAX_CHANGE_POINTS } from './control.ts';
import type { SequentialModel } from './linearizability.ts';

export type Expect = 'acceptable' | 'interesting' | 'forbidden';
export type RaceMode = 'stress' | 'explore';

export interface OutcomeSpec {
  /** An exact outcome id, or a RegExp that must match the whole id. */
  id: string | RegExp;
  expect: Expect;
  desc?: string;
  /** Grade in trials where an actor was killed (fault injection). Default: `expect`. */
  underFaults?: Expect;
}

/** What an actor gets beside the state. */
export interface ActorContext {
  /** This actor's index in `actors`. */
  readonly actor: number;
  readonly actors: number;
  /** The trial's number in this run of the test (0, 1, ...). */
  readonly trial: number;
  readonly mode: RaceMode;
  /** worker_threads threadId of the thread running this actor. */
  readonly threadId: number;
  /** A random number in [0, 1): deterministic per trial and actor in explore mode. */
  random(): number;
  /**
   * Linearizability tests: record one operation on the shared object. `fn` runs the operation;
   * its return value is the output. The call and return are stamped with a shared logical clock.
   */
  op<T>(name: string, input: unknown, fn: () => T): T;
}

export interface ArbiterContext {
  readonly trial: number;
  readonly mode: RaceMode;
  /** Actors terminated by fault injection in this trial. */
  readonly killed: readonly number[];
  /** worker_threads threadId of each actor's thread (for Mutex.recoverOwner after a kill). */
  readonly threadIds: readonly number[];
  /** The actors' raw results (a killed actor's is undefined). */
  readonly results: readonly unknown[];
}

export type Actor<S> = (state: S, ctx: ActorContext) => unknown;

/**
 * Fault injection. Each number is a probability; 0 or absent turns that fault off. Delays and
 * spurious wake-ups are legal behaviours (correct code must tolerate them), so they never change
 * how outcomes are graded; a kill does (see OutcomeSpec.underFaults).
 */
export interface FaultOptions {
  /**
   * Chance per batch that the batch is replaced by one trial in which a random actor's thread is
   * terminated at a random Atomics call — really terminated (process.exit in the worker: no
   * finally block runs). Its result is 'killed'; the arbiter gets `ctx.killed`. Each kill costs a
   * thread respawn (tens of ms). Not used by DFS, nor by linearizability tests.
   */
  kill?: number;
  /** Per trial: hold one random actor back (explore: for some decisions; stress: a ~0.2 ms spin). */
  delay?: number;
  /** Spurious wake-ups: explore — per decision with a blocked waiter; stress — per Atomics.wait. */
  spurious?: number;
}

export interface ExploreOptions {
  /** Scheduling points per trial before it is cut off as 'livelock'. Default 20 000. */
  maxSteps?: number;
  /** PCT bug depth d. Default 3. */
  pctDepth?: number;
  /** DFS preemption bound. Default 2. */
  preemptionBound?: number;
}

interface CommonOptions<S> {
  name: string;
  description?: string;
  setup: () => S;
  outcomes?: readonly OutcomeSpec[];
  defaultExpect?: Expect;
  /** Grade of unlisted ids in trials where an actor was killed. Default 'interesting'. */
  defaultExpectUnderFaults?: Expect;
  faults?: FaultOptions;
  explore?: ExploreOptions;
  /** A trial that has not finished after this long is reported as 'timeout'. Default 5000. */
  timeoutMs?: number;
  /** Run only in this mode (e.g. a test that needs real time). Default: both. */
  modes?: readonly RaceMode[];
  /** For planted-bug tests: the bug, in a few words. The self-check expects these to fail. */
  planted?: string;
  /** Free-form variant label (which implementation the test exercises). */
  variant?: string;
}

export interface RaceTestOptions<S> extends CommonOptions<S> {
  actors: readonly Actor<S>[];
  arbiter?: (state: S, ctx: ArbiterContext) => unknown;
  outcomes: readonly OutcomeSpec[];
}

export interface StressTestOptions<S> extends CommonOptions<S> {
  threads: number;
  /** One operation; called `ops` times per thread per trial. */
  op: (state: S, ctx: ActorContext & { readonly iteration: number }) => void;
  /** Invariant check after all threads: true/undefined = holds; false or a string = violated. */
  check: (state: S, ctx: ArbiterContext) => boolean | string | undefined | void;
  /** Operations per thread per trial, per mode. Default { stress: 100, explore: 2 }. */
  ops?: number | { stress?: number; explore?: number };
}

export interface LinearizabilityTestOptions<S, M> extends CommonOptions<S> {
  model: SequentialModel<M>;
  /** Each actor records its operations with ctx.op(name, input, fn). */
  actors: readonly Actor<S>[];
}

export const RACE_TEST_KIND = 'atomvisor.race-test';

/** A test as the harness runs it (all three define functions produce this). */
export interface RaceTest<S = unknown> {
  readonly kind: typeof RACE_TEST_KIND;
  readonly type: 'race' | 'stress' | 'linearizability';
  readonly name: string;
  readonly description: string | undefined;
  readonly setup: () => S;
  readonly actors: readonly Actor<S>[];
  readonly arbiter: ((state: S, ctx: ArbiterContext) => unknown) | undefined;
  readonly outcomes: readonly OutcomeSpec[];
  readonly defaultExpect: Expect;
  readonly defaultExpectUnderFaults: Expect;
  readonly faults: Required<FaultOptions>;
  readonly explore: Required<ExploreOptions>;
  readonly timeoutMs: number;
  readonly modes: readonly RaceMode[];
  readonly planted: string | undefined;
  readonly variant: string | undefined;
  /** Linearizability tests only. */
  readonly model: SequentialModel<unknown> | undefined;
}

const EXPECTS: readonly Expect[] = ['acceptable', 'interesting', 'forbidden'];

function checkExpect(value: unknown, field: string): Expect {
  if (!EXPECTS.includes(value as Expect)) {
    throw new InvalidArgumentError(
      field,
      `expected 'acceptable', 'interesting' or 'forbidden', got ${JSON.stringify(value)}`,
    );
  }
  return value as Expect;
}

function checkProbability(value: unknown, field: string): number {
  if (value === undefined) return 0;
  if (typeof value !== 'number' || !(value >= 0 && value <= 1)) {
    throw new InvalidArgumentError(field, `expected a probability in [0, 1], got ${String(value)}`);
  }
  return value;
}

function checkPositiveInt(value: unknown, field: string, fallback: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max) {
    throw new InvalidArgumentError(
      field,
      `expected an integer in [1, ${max}], got ${String(value)}`,
    );
  }
  return value;
}

function checkOutcomes(outcomes: unknown, field: string): readonly OutcomeSpec[] {
  if (!Array.isArray(outcomes)) {
    throw new InvalidArgumentError(field, 'expected an array of { id, expect, desc? }');
  }
  return outcomes.map((o, i) => {
    const f = `${field}[${i}]`;
    if (o === null || typeof o !== 'object')
      throw new InvalidArgumentError(f, 'expected { id, expect, desc? }');
    const spec = o as OutcomeSpec;
    if (typeof spec.id !== 'string' && !(spec.id instanceof RegExp)) {
      throw new InvalidArgumentError(`${f}.id`, 'expected a string or a RegExp');
    }
    checkExpect(spec.expect, `${f}.expect`);
    if (spec.underFaults !== undefined) checkExpect(spec.underFaults, `${f}.underFaults`);
    if (spec.desc !== undefined && typeof spec.desc !== 'string') {
      throw new InvalidArgumentError(`${f}.desc`, 'expected a string');
    }
    return Object.freeze({ ...spec });
  });
}

function common<S>(
  options: CommonOptions<S>,
  what: string,
): Omit<RaceTest<S>, 'type' | 'actors' | 'arbiter' | 'outcomes' | 'model'> {
  if (options === null || typeof options !== 'object') {
    throw new InvalidArgumentError('options', `${what} expects an options object`);
  }
  if (typeof options.name !== 'string' || options.name.length === 0) {
    throw new InvalidArgumentError('name', 'expected a non-empty string');
  }
  const prefix = `test ${JSON.stringify(options.name)}`;
  if (typeof options.setup !== 'function') {
    throw new InvalidArgumentError(`${prefix}: setup`, 'expected a function returning the state');
  }
  const faults = options.faults ?? {};
  const explore = options.explore ?? {};
  const modes = options.modes ?? ['stress', 'explore'];
  if (
    !Array.isArray(modes) ||
    modes.length === 0 ||
    modes.some((m) => m !== 'stress' && m !== 'explore')
  ) {
    throw new InvalidArgumentError(
      `${prefix}: modes`,
      "expected a non-empty list of 'stress' | 'explore'",
    );
  }
  return {
    kind: RACE_TEST_KIND,
    name: options.name,
    description: options.description,
    setup: options.setup,
    defaultExpect:
      options.defaultExpect === undefined
        ? 'forbidden'
        : checkExpect(options.defaultExpect, `${prefix}: defaultExpect`),
    defaultExpectUnderFaults:
      options.defaultExpectUnderFaults === undefined
        ? 'interesting'
        : checkExpect(options.defaultExpectUnderFaults, `${prefix}: defaultExpectUnderFaults`),
    faults: Object.freeze({
      kill: checkProbability(faults.kill, `${prefix}: faults.kill`),
      delay: checkProbability(faults.delay, `${prefix}: faults.delay`),
      spurious: checkProbability(faults.spurious, `${prefix}: faults.spurious`),
    }),
    explore: Object.freeze({
      maxSteps: checkPositiveInt(
        explore.maxSteps,
        `${prefix}: explore.maxSteps`,
        20_000,
        1_000_000,
      ),
      pctDepth: checkPositiveInt(
        explore.pctDepth,
        `${prefix}: explore.pctDepth`,
        3,
        MAX_CHANGE_POINTS,
      ),
      preemptionBound:
        explore.preemptionBound === 0
          ? 0
          : checkPositiveInt(explore.preemptionBound, `${prefix}: explore.preemptionBound`, 2, 64),
    }),
    timeoutMs: checkPositiveInt(options.timeoutMs, `${prefix}: timeoutMs`, 5000, 3_600_000),
    modes: Object.freeze([...modes]),
    planted: options.planted,
    variant: options.variant,
  };
}

function checkActors<S>(actors: unknown, prefix: string): readonly Actor<S>[] {
  if (!Array.isArray(actors) || actors.length === 0) {
    throw new InvalidArgumentError(`${prefix}: actors`, 'expected a non-empty array of functions');
  }
  if (actors.length > MAX_ACTORS) {
    throw new InvalidArgumentError(`${prefix}: actors`, `at most ${MAX_ACTORS} actors`);
  }
  actors.forEach((a, i) => {
    if (typeof a !== 'function')
      throw new InvalidArgumentError(`${prefix}: actors[${i}]`, 'expected a function');
  });
  return Object.freeze([...actors]) as readonly Actor<S>[];
}

/** A jcstress-style test: actors run once per trial, each on its own thread, then the arbiter. */
export function defineRaceTest<S>(options: RaceTestOptions<S>): RaceTest<S> {
  const base = common(options, 'defineRaceTest');
  const prefix = `test ${JSON.stringify(base.name)}`;
  if (options.arbiter !== undefined && typeof options.arbiter !== 'function') {
    throw new InvalidArgumentError(`${prefix}: arbiter`, 'expected a function');
  }
  return Object.freeze({
    ...base,
    type: 'race' as const,
    actors: checkActors<S>(options.actors, prefix),
    arbiter: options.arbiter,
    outcomes: Object.freeze(checkOutcomes(options.outcomes, `${prefix}: outcomes`)),
    model: undefined,
  });
}

/**
 * An invariant-style test: `threads` threads each run `op` many times on the same state, then
 * `check` says whether the invariant held. Outcomes: 'ok' (acceptable) and 'violated' (forbidden),
 * unless `outcomes` says otherwise; the violation message is kept as the outcome's sample.
 */
export function defineStressTest<S>(options: StressTestOptions<S>): RaceTest<S> {
  const base = common(options, 'defineStressTest');
  const prefix = `test ${JSON.stringify(base.name)}`;
  const threads = checkPositiveInt(options.threads, `${prefix}: threads`, 2, MAX_ACTORS);
  if (typeof options.op !== 'function')
    throw new InvalidArgumentError(`${prefix}: op`, 'expected a function');
  if (typeof options.check !== 'function')
    throw new InvalidArgumentError(`${prefix}: check`, 'expected a function');
  const ops = options.ops ?? {};
  const stressOps = checkPositiveInt(
    typeof ops === 'number' ? ops : ops.stress,
    `${prefix}: ops`,
    100,
    1_000_000,
  );
  const exploreOps = checkPositiveInt(
    typeof ops === 'number' ? ops : ops.explore,
    `${prefix}: ops`,
    2,
    1_000_000,
  );
  const op = options.op;
  const actor: Actor<S> = (state, ctx) => {
    const n = ctx.mode === 'explore' ? exploreOps : stressOps;
    for (let i = 0; i < n; i++) op(state, Object.assign(Object.create(ctx), { iteration: i }));
    return undefined;
  };
  const check = options.check;
  return Object.freeze({
    ...base,
    type: 'stress' as const,
    actors: Object.freeze(Array.from({ length: threads }, () => actor)),
    arbiter: (state: S, ctx: ArbiterContext) => {
      const verdict = check(state, ctx);
      if (verdict === true || verdict === undefined) return 'ok';
      return new InvariantViolation(verdict === false ? 'check() returned false' : String(verdict));
    },
    outcomes: Object.freeze(
      checkOutcomes(
        options.outcomes ?? [
          { id: 'ok', expect: 'acceptable', desc: 'the invariant held' },
          { id: 'violated', expect: 'forbidden', desc: 'the invariant was broken' },
        ],
        `${prefix}: outcomes`,
      ),
    ),
    model: undefined,
  });
}

/**
 * A linearizability test: actors record operations with ctx.op(name, input, fn); after each trial
 * the history is checked against `model` (Wing–Gong / Porcupine search). Outcomes: 'linearizable'
 * (acceptable), 'not linearizable' (forbidden, with a minimal failing sub-history as the sample),
 * 'unknown' (interesting: the search ran out of budget).
 */
export function defineLinearizabilityTest<S, M>(
  options: LinearizabilityTestOptions<S, M>,
): RaceTest<S> {
  const base = common(options, 'defineLinearizabilityTest');
  const prefix = `test ${JSON.stringify(base.name)}`;
  const model = options.model;
  if (
    model === null ||
    typeof model !== 'object' ||
    typeof model.init !== 'function' ||
    typeof model.step !== 'function'
  ) {
    throw new InvalidArgumentError(
      `${prefix}: model`,
      'expected { init(), step(state, op, input, output) }',
    );
  }
  return Object.freeze({
    ...base,
    type: 'linearizability' as const,
    actors: checkActors<S>(options.actors, prefix),
    arbiter: undefined,
    outcomes: Object.freeze(
      checkOutcomes(
        options.outcomes ?? [
          { id: 'linearizable', expect: 'acceptable' },
          { id: 'unknown', expect: 'interesting', desc: 'the checker ran out of budget' },
          { id: 'not linearizable', expect: 'forbidden' },
        ],
        `${prefix}: outcomes`,
      ),
    ),
    model: model as SequentialModel<unknown>,
  });
}

/** The arbiter's verdict for a broken invariant: formats as 'violated', keeps the message. */
export class InvariantViolation {
  readonly message: string;
  constructor(message: string) {
    this.message = message;
  }
  toString(): string {
    return 'violated';
  }
}

export function isRaceTest(value: unknown): value is RaceTest {
  return value !== null && typeof value === 'object' && (value as RaceTest).kind === RACE_TEST_KIND;
}

/** The tests a test file's default export holds, checked: one test or an array of them. */
export function testsOfModule(mod: unknown, file: string): RaceTest[] {
  const exported = (mod as { default?: unknown } | null)?.default;
  const list = Array.isArray(exported) ? exported : [exported];
  if (exported === undefined || list.length === 0) {
    throw new InvalidArgumentError(
      file,
      'a race test file must default-export a test (defineRaceTest(...)) or an array of tests',
    );
  }
  const names = new Set<string>();
  list.forEach((t, i) => {
    if (!isRaceTest(t)) {
      throw new InvalidArgumentError(
        `${file}: default export${Array.isArray(exported) ? `[${i}]` : ''}`,
        'is not a test made by defineRaceTest / defineStressTest / defineLinearizabilityTest',
      );
    }
    if (names.has(t.name))
      throw new InvalidArgumentError(file, `two tests are named ${JSON.stringify(t.name)}`);
    names.add(t.name);
  });
  return list as RaceTest[];
}
