/**
 * Rolling restart of one key's replicas (pm2's `reload`, Kubernetes' rolling update with
 * maxUnavailable 1): one replica at a time is drained (its in-flight requests and its lease finish,
 * up to a deadline), stopped and started afresh, and the next one is touched only once the new
 * process serves — ready, and its readiness probe passing. With two or more replicas the key never
 * has fewer than n − 1 serving. The rollout stops at the first replica that does not come back:
 * the replicas after it keep their old processes, which still serve.
 *
 * Replicas with no process (stopped for idleness, or failed) are skipped: nothing old runs there.
 * Waiting is a short poll of the slot's state word (lock-free), never a lock held across the await.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { SlotTable } from '../table/slot-table.ts';
import { Flag } from '../table/state.ts';
import type { Supervisor } from './supervisor.ts';

export interface ReloadReport {
  key: string;
  /** The replicas restarted, in order: the process each had and the one it has now. */
  replaced: { replica: number; slot: number; fromPid: number; toPid: number }[];
  /** Replicas left alone because no process ran there (idle or failed). */
  skipped: { replica: number; slot: number; status: string }[];
  /** Set when the rollout stopped early: the replica that did not come back, and why. */
  stopped?: { replica: number; slot: number; reason: string };
}

export interface RolloutContext {
  table: SlotTable;
  /** True once the coordinator is closing (or the key is being removed): stop rolling. */
  cancelled(s: Supervisor): boolean;
  drainMs: number;
  readyTimeoutMs: number;
  /** Called for each replica before it is restarted or skipped (a reload with a new spec). */
  prepare?(s: Supervisor): void;
}

const POLL_MS = 20;

export async function rollReplicas(
  key: string,
  replicas: readonly Supervisor[],
  ctx: RolloutContext,
): Promise<ReloadReport> {
  const report: ReloadReport = { key, replaced: [], skipped: [] };
  for (const [replica, s] of replicas.entries()) {
    if (ctx.cancelled(s)) {
      report.stopped = { replica, slot: s.slot, reason: 'the coordinator is closing' };
      return report;
    }
    ctx.prepare?.(s);
    const status = s.status;
    if (status !== 'ready' && status !== 'leased' && status !== 'starting') {
      report.skipped.push({ replica, slot: s.slot, status });
      continue;
    }
    const fromPid = s.pid;
    await s.retire('reload', ctx.drainMs);
    const problem = await serving(s, ctx);
    if (problem !== undefined) {
      report.stopped = { replica, slot: s.slot, reason: problem };
      return report;
    }
    report.replaced.push({ replica, slot: s.slot, fromPid, toPid: s.pid });
  }
  return report;
}

/** Wait until `s` serves (ready or leased, not unready); the reason it does not, at the deadline. */
async function serving(s: Supervisor, ctx: RolloutContext): Promise<string | undefined> {
  const deadline = performance.now() + ctx.readyTimeoutMs;
  for (;;) {
    if (ctx.cancelled(s)) return 'the coordinator is closing';
    const state = ctx.table.state(s.slot);
    const live = state.status === 'ready' || state.status === 'leased';
    if (live && (state.flags & Flag.unready) === 0) return undefined;
    if (state.status === 'failed') return 'the new process failed to start (restart breaker)';
    if (performance.now() >= deadline) {
      const why = live ? 'its readiness probe has not passed' : `it is ${state.status}`;
      return `the new process did not serve within ${ctx.readyTimeoutMs} ms: ${why}`;
    }
    await sleep(POLL_MS);
  }
}
