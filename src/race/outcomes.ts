/**
 * Outcome ids and grading. An actor's result crosses a thread as an ActorResult (a value, an error,
 * or a harness marker); the main thread formats results into the outcome id and grades it.
 */
import type { Expect, OutcomeSpec, RaceTest } from './define.ts';
import { InvariantViolation } from './define.ts';
import { describeError, type ErrorInfo } from './errors.ts';
import { jsonWithBigInts } from './linearizability.ts';

/** One actor's result in one trial, as posted by its worker. */
export type ActorResult =
  | { readonly v: unknown }
  | { readonly e: ErrorInfo }
  | { readonly k: 'killed' | 'aborted' | 'skipped' };

/** Ids the harness itself produces for a whole trial. */
export const HARNESS_OUTCOMES = ['timeout', 'deadlock', 'livelock'] as const;
export type HarnessOutcome = (typeof HARNESS_OUTCOMES)[number];

/** An actor's error result; a thrown non-Error is named 'thrown' (outcome id `error:thrown`). */
export function errorResult(error: unknown): ActorResult {
  return { e: describeError(error, 'thrown') };
}

/** Format one result for an outcome id (undefined: left out of the id). */
export function formatValue(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
      return value;
    case 'number':
    case 'boolean':
    case 'bigint':
      return String(value);
    case 'symbol':
    case 'function':
      return String(value);
    default:
      break;
  }
  if (value instanceof InvariantViolation) return 'violated';
  if (Array.isArray(value) || ArrayBuffer.isView(value)) {
    const items = Array.from(value as ArrayLike<unknown>, (x) => formatValue(x) ?? 'undefined');
    return `[${items.join(' ')}]`;
  }
  try {
    return jsonWithBigInts(value);
  } catch {
    return String(value);
  }
}

export function formatResult(result: ActorResult): string | undefined {
  if ('v' in result) return formatValue(result.v);
  if ('e' in result) return `error:${result.e.code ?? result.e.name}`;
  return result.k;
}

/** The outcome id of a trial: actors' results, then the arbiter's, joined by ','. */
export function outcomeId(results: readonly ActorResult[], arbiter: unknown): string {
  const parts: string[] = [];
  for (const r of results) {
    const s = formatResult(r);
    if (s !== undefined) parts.push(s);
  }
  const a = formatValue(arbiter);
  if (a !== undefined) parts.push(a);
  return parts.join(',');
}

export interface Grade {
  expect: Expect;
  desc: string | undefined;
  /** False when no `outcomes` entry matched (graded by a default). */
  listed: boolean;
}

function matches(spec: OutcomeSpec, id: string): boolean {
  if (typeof spec.id === 'string') return spec.id === id;
  spec.id.lastIndex = 0;
  const m = spec.id.exec(id);
  return m !== null && m.index === 0 && m[0].length === id.length;
}

export function isHarnessOutcome(id: string): boolean {
  return (HARNESS_OUTCOMES as readonly string[]).includes(id) || id.includes('error:');
}

/** First match wins; unlisted ids get the test's default (harness outcomes: forbidden). */
export function grade(test: RaceTest, id: string, killed: boolean): Grade {
  for (const spec of test.outcomes) {
    if (matches(spec, id)) {
      return {
        expect: killed ? (spec.underFaults ?? spec.expect) : spec.expect,
        desc: spec.desc,
        listed: true,
      };
    }
  }
  if (isHarnessOutcome(id)) return { expect: 'forbidden', desc: undefined, listed: false };
  return {
    expect: killed ? test.defaultExpectUnderFaults : test.defaultExpect,
    desc: undefined,
    listed: false,
  };
}
