/**
 * Turning a finished trial into its outcome id and the detail kept with its sample, on the main
 * thread: the harness's own outcomes for an explore trial the scheduler cut short (deadlock,
 * livelock, a diverged replay), otherwise the arbiter's verdict or the linearizability check.
 * Grading the id (outcomes.ts) and counting it (test-run.ts) come after.
 */
import type { DoneMessage } from './actor-host.ts';
import {
  ActorStatus,
  OP_NAMES,
  PRIVATE_BUFFER_IDS,
  type TrialSnapshot,
  TrialStatus,
} from './control.ts';
import { type ArbiterContext, InvariantViolation, type RaceMode, type RaceTest } from './define.ts';
import { describeError } from './errors.ts';
import {
  checkLinearizability,
  formatHistory,
  type HistoryOp,
  shortestFailingPrefix,
} from './linearizability.ts';
import { type ActorResult, outcomeId } from './outcomes.ts';

/** A trial's outcome id, and why (a deadlock's waiters, an error's message, a history...). */
export interface Verdict {
  id: string;
  detail: string | undefined;
}

/** How each `ActorStatus` reads in a sentence about what an actor was doing. */
const STATUS_WORDS = [
  'not started',
  'runnable at',
  'blocked in',
  'returned after',
  'killed at',
  'unwinding at',
];

/** What each actor of an explore trial was doing last ('blocked': leave out those that ended). */
export function describeOps(snapshot: TrialSnapshot, n: number, only: 'blocked' | 'all'): string {
  const parts: string[] = [];
  for (let t = 0; t < n; t++) {
    const [op, buf, byte, status] = snapshot.ops.slice(4 * t, 4 * t + 4) as [
      number,
      number,
      number,
      number,
    ];
    if (only === 'blocked' && (status === ActorStatus.DONE || status === ActorStatus.KILLED))
      continue;
    const where =
      buf < 0
        ? ''
        : ` on ${buf >= PRIVATE_BUFFER_IDS ? 'a private buffer' : `buffer #${buf}`} at byte ${byte}`;
    parts.push(`actor ${t} ${STATUS_WORDS[status] ?? 'at'} Atomics.${OP_NAMES[op] ?? op}${where}`);
  }
  return parts.join('; ');
}

/**
 * The harness's outcome for an explore trial the scheduler cut short, or undefined when the trial
 * ran to its end. `replaying`: the run forces a printed trace's choices.
 */
export function cutShortVerdict(
  snap: TrialSnapshot,
  n: number,
  maxSteps: number,
  replaying: boolean,
): Verdict | undefined {
  switch (snap.status) {
    case TrialStatus.DEADLOCK:
      return {
        id: 'deadlock',
        detail: `every live actor waits and none can wake: ${describeOps(snap, n, 'blocked')}`,
      };
    case TrialStatus.LIVELOCK:
      return {
        id: 'livelock',
        detail: `no end after ${snap.steps} scheduling steps (explore.maxSteps ${maxSteps}): ${describeOps(snap, n, 'blocked')}`,
      };
    case TrialStatus.DIVERGED:
      return replaying
        ? {
            id: 'error:replay-diverged',
            detail:
              'the trace no longer fits the test: a forced choice was not possible (was the test changed?)',
          }
        : {
            id: 'error:nondeterministic',
            detail:
              'replaying a schedule prefix took a different path: the actors depend on something besides the schedule (time, I/O, state kept across trials)',
          };
    default:
      return undefined;
  }
}

/** A completed trial, as `judgeTrial` needs it. */
export interface FinishedTrial {
  test: RaceTest;
  mode: RaceMode;
  /** The trial's number in this run. */
  trial: number;
  /** Its index in the batch (which entry of each reply's results and histories). */
  index: number;
  state: unknown;
  /** Each actor's result ('killed' for an actor a fault terminated). */
  results: ActorResult[];
  replies: readonly (DoneMessage | 'killed')[];
  killed: number[];
  threadIds: number[];
}

/** The outcome of a completed trial: the linearizability check, or the actors' and arbiter's results. */
export function judgeTrial(t: FinishedTrial): Verdict {
  const { test, results } = t;
  const errors = results
    .map((r, actor) =>
      'e' in r
        ? `actor ${actor} threw ${r.e.name}${r.e.code ? ` [${r.e.code}]` : ''}: ${r.e.message}`
        : '',
    )
    .filter((s) => s !== '');
  const thrown = errors.length > 0 ? errors.join('; ') : undefined;
  if (test.type === 'linearizability' && test.model) return linearizabilityVerdict(t, thrown);
  let detail = thrown;
  let arbiter: unknown;
  if (test.arbiter) {
    const ctx: ArbiterContext = {
      trial: t.trial,
      mode: t.mode,
      killed: t.killed,
      threadIds: t.threadIds,
      results: results.map((r) => ('v' in r ? r.v : undefined)),
    };
    try {
      arbiter = test.arbiter(t.state, ctx);
    } catch (error) {
      const e = describeError(error);
      return {
        id: `${outcomeId(results, undefined)}${results.length ? ',' : ''}error:arbiter`,
        detail: `the arbiter threw ${e.name}: ${e.message}`,
      };
    }
    if (arbiter instanceof InvariantViolation)
      detail = detail ? `${detail}; ${arbiter.message}` : arbiter.message;
  }
  return { id: outcomeId(results, arbiter), detail };
}

/** Linearizability tests: the actors' errors, then the verdict on the trial's history. */
function linearizabilityVerdict(t: FinishedTrial, thrown: string | undefined): Verdict {
  const model = t.test.model!;
  const history: HistoryOp[] = [];
  for (const r of t.replies) if (r !== 'killed') history.push(...(r.histories[t.index] ?? []));
  const actorIds = t.results
    .map((r) => ('e' in r ? `error:${r.e.code ?? r.e.name}` : undefined))
    .filter((x) => x !== undefined);
  const verdict = checkLinearizability(model, history);
  let detail = thrown;
  if (verdict === 'not linearizable') {
    const prefix = shortestFailingPrefix(model, history);
    detail = `shortest non-linearizable prefix of the history (cut at the first impossible return; ${prefix.length} of ${history.length} operations; [call, return] times):\n${formatHistory(prefix)}`;
  }
  return { id: [...actorIds, verdict].join(','), detail };
}
