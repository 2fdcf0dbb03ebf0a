/**
 * Replay traces: a failing explore trial printed as one shell-safe string that `atomvisor race
 * --replay TRACE` decodes and forces, reproducing the trial exactly.
 *
 *   v1:<strategy>:<seed>:<test>:<options>:<choices>
 *
 * - strategy: the strategy that found it (informational: replay forces the choices).
 * - seed: the trial's seed, base 36. It seeds everything in the trial that is not a scheduling
 *   choice: Math.random in the actors and the scheduler's own random state.
 * - test: the test's name, percent-encoded.
 * - options: '.'-separated fields: m<maxSteps> (always), s<spurious ppm>, k<actor>-<step> (an
 *   actor killed at that step), d<actor>-<decision> (an actor held back until that decision);
 *   numbers in base 36.
 * - choices: one base-36 digit per scheduling decision (where more than one choice was possible):
 *   c < n runs actor c; c ≥ n wakes actor c − n from Atomics.wait spuriously and runs it. A run of
 *   four or more equal digits is written `<digit>-<count>-`.
 */
import { InvalidArgumentError } from '../errors.ts';

export type StrategyName = 'random' | 'pct' | 'dfs' | 'replay';

export interface TraceFaults {
  kill?: { actor: number; step: number };
  delay?: { actor: number; until: number };
}

export interface ReplayTrace {
  strategy: StrategyName;
  seed: number;
  test: string;
  maxSteps: number;
  spuriousPpm: number;
  faults: TraceFaults;
  choices: Uint8Array;
}

const STRATEGIES: readonly StrategyName[] = ['random', 'pct', 'dfs', 'replay'];

export function encodeChoices(choices: ArrayLike<number>): string {
  let out = '';
  let i = 0;
  while (i < choices.length) {
    const c = choices[i]!;
    let j = i + 1;
    while (j < choices.length && choices[j] === c) j++;
    const run = j - i;
    const digit = c.toString(36);
    out += run >= 4 ? `${digit}-${run.toString(36)}-` : digit.repeat(run);
    i = j;
  }
  return out;
}

export function decodeChoices(text: string): Uint8Array {
  const out: number[] = [];
  let i = 0;
  while (i < text.length) {
    const c = Number.parseInt(text[i]!, 36);
    if (Number.isNaN(c))
      throw new InvalidArgumentError('trace', `bad choice ${JSON.stringify(text[i])}`);
    i++;
    if (text[i] === '-') {
      const end = text.indexOf('-', i + 1);
      if (end < 0) throw new InvalidArgumentError('trace', 'unterminated run in the choices');
      const run = Number.parseInt(text.slice(i + 1, end), 36);
      if (!Number.isInteger(run) || run < 1 || run > 10_000_000)
        throw new InvalidArgumentError('trace', 'bad run length in the choices');
      for (let r = 0; r < run; r++) out.push(c);
      i = end + 1;
    } else {
      out.push(c);
    }
  }
  return Uint8Array.from(out);
}

export function encodeTrace(t: ReplayTrace): string {
  const opts = [`m${t.maxSteps.toString(36)}`];
  if (t.spuriousPpm > 0) opts.push(`s${t.spuriousPpm.toString(36)}`);
  if (t.faults.kill)
    opts.push(`k${t.faults.kill.actor.toString(36)}-${t.faults.kill.step.toString(36)}`);
  if (t.faults.delay)
    opts.push(`d${t.faults.delay.actor.toString(36)}-${t.faults.delay.until.toString(36)}`);
  return [
    'v1',
    t.strategy,
    (t.seed >>> 0).toString(36),
    encodeURIComponent(t.test).replace(/[!'()*]/g, (ch) => `%${ch.charCodeAt(0).toString(16)}`),
    opts.join('.'),
    encodeChoices(t.choices),
  ].join(':');
}

function pair(text: string, what: string): { a: number; b: number } {
  const [a, b] = text.split('-').map((x) => Number.parseInt(x, 36));
  if (a === undefined || b === undefined || Number.isNaN(a) || Number.isNaN(b))
    throw new InvalidArgumentError('trace', `bad ${what} option ${JSON.stringify(text)}`);
  return { a, b };
}

export function decodeTrace(text: string): ReplayTrace {
  if (typeof text !== 'string')
    throw new InvalidArgumentError('trace', 'expected a string like v1:pct:...');
  const parts = text.trim().split(':');
  if (parts[0] !== 'v1' || parts.length !== 6) {
    throw new InvalidArgumentError(
      'trace',
      'expected v1:<strategy>:<seed>:<test>:<options>:<choices> (as printed by a failing explore run)',
    );
  }
  const [, strategy, seedText, testText, optsText, choicesText] = parts as [
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  if (!STRATEGIES.includes(strategy as StrategyName))
    throw new InvalidArgumentError('trace', `unknown strategy ${JSON.stringify(strategy)}`);
  const seed = Number.parseInt(seedText, 36);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff)
    throw new InvalidArgumentError('trace', `bad seed ${JSON.stringify(seedText)}`);
  let test: string;
  try {
    test = decodeURIComponent(testText);
  } catch {
    throw new InvalidArgumentError('trace', 'bad test name encoding');
  }
  let maxSteps = 0;
  let spuriousPpm = 0;
  const faults: TraceFaults = {};
  for (const opt of optsText.split('.')) {
    const body = opt.slice(1);
    switch (opt[0]) {
      case 'm':
        maxSteps = Number.parseInt(body, 36);
        break;
      case 's':
        spuriousPpm = Number.parseInt(body, 36);
        break;
      case 'k': {
        const { a, b } = pair(body, 'kill');
        faults.kill = { actor: a, step: b };
        break;
      }
      case 'd': {
        const { a, b } = pair(body, 'delay');
        faults.delay = { actor: a, until: b };
        break;
      }
      default:
        throw new InvalidArgumentError('trace', `unknown option ${JSON.stringify(opt)}`);
    }
  }
  if (!Number.isInteger(maxSteps) || maxSteps < 1)
    throw new InvalidArgumentError('trace', 'missing or bad m<maxSteps> option');
  if (!Number.isInteger(spuriousPpm) || spuriousPpm < 0 || spuriousPpm > 1_000_000)
    throw new InvalidArgumentError('trace', 'bad s<spurious> option');
  return {
    strategy: strategy as StrategyName,
    seed,
    test,
    maxSteps,
    spuriousPpm,
    faults,
    choices: decodeChoices(choicesText),
  };
}
