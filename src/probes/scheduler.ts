/**
 * ProbeScheduler: health rounds with Kubernetes probe semantics, costing the coordinator
 * microseconds of shared-state work whatever the probes do (failure F1: docs/architecture.md).
 *
 * One unref'd timer ticks every (shortest probe period / 4). A tick is a *round*: it reads every
 * replica's state word lock-free, decides which probes are due (per replica, per probe next-due
 * times) and dispatches all of them at once — exec/tcp/http/module to the piscina pool, jsonrpc to
 * the IO worker that owns the process — without awaiting anything. Each result is applied later in
 * its own callback: a generation check first (a result for a process that was replaced or has
 * exited meanwhile is dropped and counted, never applied), then the consecutive counts in the slot
 * (seqlock publish at that generation), then the consequence by CAS at that generation:
 *
 * - startup: until it passes, liveness and readiness do not run and the replica is unready;
 *   failureThreshold failures in a row → the process is killed and restarted.
 * - liveness: failureThreshold failures in a row → killed through the supervisor; the normal
 *   unexpected-exit path restarts it (backoff, breaker).
 * - readiness: failureThreshold failures in a row → Flag.unready (request() and acquire() skip the
 *   replica and wait for another); successThreshold successes → the flag is cleared (which wakes
 *   waiters). A replica with a readiness (or startup) probe starts unready.
 *
 * Both synchronous parts (a round's dispatch, one result's application) are timed with
 * performance.now and reported in stats: that is the coordinator's whole critical section here.
 * The shapes it takes and reports are in types.ts.
 */
import { ContentionError, ProbeConfigError } from '../errors.ts';
import { SampleWindow } from '../quantile.ts';
import { Flag } from '../table/state.ts';
import { countOf, withCount } from './counters.ts';
import { ProbePool } from './pool.ts';
import { PROBE_NAMES, type ProbeName, type ResolvedProbe } from './spec.ts';
import type { ProbeOutcome } from './task.ts';
import type {
  ProbeEvent,
  ProbeHost,
  ProbeStats,
  ProbeTarget,
  RoundReport,
  RoundSection,
} from './types.ts';

interface ProbeState {
  due: number;
  inFlight: boolean;
}

/** What the scheduler knows about one replica's current process. */
interface ReplicaState {
  generation: number;
  startupPassed: boolean;
  killed: boolean;
  probes: Record<ProbeName, ProbeState>;
}

const LIVE_STATUS = new Set(['ready', 'leased']);
/** A dispatch slice stops handing out probes after this long and yields (setImmediate). */
const SLICE_MS = 0.1;

interface Round {
  maxDispatchUs: number;
  maxApplyUs: number;
  sections: RoundSection[];
}

interface Job {
  target: ProbeTarget;
  r: ReplicaState;
  probe: ResolvedProbe;
  round: Round;
  settle: () => void;
}

export class ProbeScheduler {
  readonly #host: ProbeHost;
  readonly #replicas = new Map<number, ReplicaState>();
  /** Latency of the last 1 024 results, ms. */
  readonly #latencies = new SampleWindow(1024);
  #queue: Job[] = [];
  #draining = false;
  #pool: ProbePool | undefined;
  #poolReady: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #tickMs = 0;
  #closed = false;
  readonly #stats = {
    dispatched: 0,
    results: 0,
    ok: 0,
    failed: 0,
    timedOut: 0,
    dropped: 0,
    contended: 0,
    configErrors: 0,
    inFlight: 0,
    kills: 0,
    rounds: 0,
    lastRoundUs: 0,
    maxRoundUs: 0,
    maxDispatchUs: 0,
    maxApplyUs: 0,
    byProbe: {
      liveness: { ok: 0, failed: 0 },
      readiness: { ok: 0, failed: 0 },
      startup: { ok: 0, failed: 0 },
    },
  };

  constructor(host: ProbeHost) {
    this.#host = host;
  }

  /**
   * The set of probed connections changed: (re)compute the tick, start the piscina pool if some
   * probe needs it. Resolves when that pool is up (its workers loaded), so a first probe does not
   * pay the worker's start-up inside its timeout.
   */
  refresh(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    let minPeriod = Number.POSITIVE_INFINITY;
    let needsPool = false;
    for (const target of this.#host.replicas()) {
      if (target.removed) continue;
      for (const name of PROBE_NAMES) {
        const probe = target.spec.probes[name];
        if (probe === undefined) continue;
        minPeriod = Math.min(minPeriod, probe.periodMs);
        if (probe.check.kind !== 'jsonrpc') needsPool = true;
      }
    }
    if (needsPool && this.#pool === undefined) {
      const pool = new ProbePool(this.#host.pool);
      this.#pool = pool;
      this.#poolReady = pool.warm();
    }
    const tickMs = Number.isFinite(minPeriod)
      ? Math.max(5, Math.min(1_000, Math.floor(minPeriod / 4)))
      : 0;
    if (tickMs !== this.#tickMs) {
      clearInterval(this.#timer);
      this.#timer = undefined;
      this.#tickMs = tickMs;
      if (tickMs > 0) {
        this.#timer = setInterval(() => this.#round(false, undefined), tickMs);
        this.#timer.unref();
      }
    }
    return this.#poolReady ?? Promise.resolve();
  }

  /**
   * Run every probe that may run now (startup gating holds; probes already in flight are not
   * doubled), whatever their due times. Resolves when all of this round's results are applied.
   */
  async probeNow(): Promise<RoundReport> {
    const started = performance.now();
    const round: Round = { maxDispatchUs: 0, maxApplyUs: 0, sections: [] };
    const { pending, decideUs } = this.#round(true, round);
    await Promise.all(pending);
    return {
      dispatched: pending.length,
      wallMs: performance.now() - started,
      decideUs,
      maxDispatchUs: round.maxDispatchUs,
      maxApplyUs: round.maxApplyUs,
      maxStateUs: Math.max(decideUs, round.maxApplyUs),
      maxCriticalUs: Math.max(decideUs, round.maxDispatchUs, round.maxApplyUs),
      sections: round.sections,
    };
  }

  stats(): ProbeStats {
    const s = this.#stats;
    return {
      dispatched: s.dispatched,
      results: s.results,
      ok: s.ok,
      failed: s.failed,
      timedOut: s.timedOut,
      dropped: s.dropped,
      contended: s.contended,
      configErrors: s.configErrors,
      inFlight: s.inFlight,
      kills: s.kills,
      workersReplaced: this.#pool?.workersReplaced ?? 0,
      byProbe: {
        liveness: { ...s.byProbe.liveness },
        readiness: { ...s.byProbe.readiness },
        startup: { ...s.byProbe.startup },
      },
      latencyMs: this.#latencies.summary(),
      rounds: s.rounds,
      lastRoundUs: s.lastRoundUs,
      maxRoundUs: s.maxRoundUs,
      maxDispatchUs: s.maxDispatchUs,
      maxApplyUs: s.maxApplyUs,
      maxStateUs: Math.max(s.maxRoundUs, s.maxApplyUs),
      maxCriticalUs: Math.max(s.maxRoundUs, s.maxDispatchUs, s.maxApplyUs),
    };
  }

  /** Forget a slot (its connection was removed). */
  forget(slot: number): void {
    this.#replicas.delete(slot);
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#pool?.close();
  }

  /**
   * One round's decision, synchronous and short: read states lock-free, pick the due probes, mark
   * them in flight, queue them for dispatch. The handing-out happens in slices (#drain), so no
   * single event-loop turn grows with the number of probes. Returns when each probe settles.
   */
  #round(
    force: boolean,
    report: Round | undefined,
  ): { pending: Promise<void>[]; decideUs: number } {
    if (this.#closed) return { pending: [], decideUs: 0 };
    // Periodic rounds keep no section list (only the stats' maxima).
    const round = report ?? { maxDispatchUs: 0, maxApplyUs: 0, sections: [] };
    const started = performance.now();
    const { table } = this.#host;
    const pending: Promise<void>[] = [];
    for (const target of this.#host.replicas()) {
      if (target.removed) continue;
      const probes = target.spec.probes;
      if (
        probes.liveness === undefined &&
        probes.readiness === undefined &&
        probes.startup === undefined
      )
        continue;
      const state = table.state(target.slot);
      if (!LIVE_STATUS.has(state.status)) continue;
      let r = this.#replicas.get(target.slot);
      if (r === undefined || r.generation !== state.generation) {
        r = this.#fresh(target, state.generation, started);
        this.#replicas.set(target.slot, r);
      }
      if (r.killed) continue;
      for (const name of PROBE_NAMES) {
        const probe = probes[name];
        if (probe === undefined) continue;
        const p = r.probes[name];
        if (p.inFlight || (!force && started < p.due)) continue;
        if (name === 'startup' ? r.startupPassed : probes.startup !== undefined && !r.startupPassed)
          continue;
        p.inFlight = true;
        p.due = started + probe.periodMs;
        const job = { target, r, probe, round, settle: () => {} };
        pending.push(
          new Promise<void>((resolve) => {
            job.settle = resolve;
          }),
        );
        this.#queue.push(job);
      }
    }
    if (pending.length > 0 && !this.#draining) {
      this.#draining = true;
      setImmediate(() => this.#drain());
    }
    const us = Math.round((performance.now() - started) * 1000);
    if (pending.length > 0 || force) {
      this.#stats.rounds++;
      this.#stats.lastRoundUs = us;
      if (us > this.#stats.maxRoundUs) this.#stats.maxRoundUs = us;
    }
    if (report !== undefined) report.sections.push({ part: 'decide', start: started, us });
    return { pending, decideUs: us };
  }

  /** Hand queued probes to the workers, SLICE_MS at a time, then yield to the event loop. */
  #drain(): void {
    const started = performance.now();
    const rounds = new Set<Round>();
    let job = this.#queue.shift();
    while (job !== undefined) {
      rounds.add(job.round);
      if (this.#closed) job.settle();
      else this.#dispatch(job);
      if (performance.now() - started >= SLICE_MS) break;
      job = this.#queue.shift();
    }
    const us = Math.round((performance.now() - started) * 1000);
    if (us > this.#stats.maxDispatchUs) this.#stats.maxDispatchUs = us;
    for (const round of rounds) {
      if (us > round.maxDispatchUs) round.maxDispatchUs = us;
      round.sections.push({ part: 'dispatch', start: started, us });
    }
    if (this.#queue.length > 0) setImmediate(() => this.#drain());
    else this.#draining = false;
  }

  #fresh(target: ProbeTarget, generation: number, now: number): ReplicaState {
    const probes = target.spec.probes;
    const due = (name: ProbeName) => now + (probes[name]?.initialDelayMs ?? 0);
    // A new process: its counters start from zero (only if the slot still runs it).
    this.#host.table.publishAt(target.slot, generation, { probeFailures: 0, probeSuccesses: 0 });
    return {
      generation,
      startupPassed: false,
      killed: false,
      probes: {
        startup: { due: due('startup'), inFlight: false },
        liveness: { due: due('liveness'), inFlight: false },
        readiness: { due: due('readiness'), inFlight: false },
      },
    };
  }

  #dispatch(job: Job): void {
    const { target, r, probe, round } = job;
    const now = performance.now();
    this.#stats.dispatched++;
    this.#stats.inFlight++;
    const generation = r.generation;
    const check = probe.check;
    let outcome: Promise<ProbeOutcome>;
    if (check.kind === 'jsonrpc') {
      outcome = this.#jsonrpc(target, generation, check.method, check.params, probe.timeoutMs);
    } else {
      const pool = this.#pool;
      outcome =
        pool === undefined
          ? Promise.resolve({ ok: false, reason: 'no probe pool' })
          : pool.run({ check, timeoutMs: probe.timeoutMs, key: target.key, pid: target.pid });
    }
    void outcome.then((o) => {
      try {
        this.#apply(target, r, probe, generation, o, performance.now() - now, round);
      } catch (error) {
        // The slot's record stayed held past the main thread's retry budget (a writer thread
        // died mid-write): the result cannot be applied safely. Anything else is a listener's.
        if (!(error instanceof ContentionError)) throw error;
        this.#stats.contended++;
      } finally {
        job.settle();
      }
    });
  }

  #jsonrpc(
    target: ProbeTarget,
    generation: number,
    method: string,
    params: unknown,
    timeoutMs: number,
  ): Promise<ProbeOutcome> {
    return new Promise<ProbeOutcome>((resolve) => {
      let settled = false;
      const finish = (outcome: ProbeOutcome) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(outcome);
      };
      // The IO worker times the request out itself; this bounds it even if that worker is stuck.
      const timer = setTimeout(
        () => finish({ ok: false, reason: `timed out after ${timeoutMs} ms`, timedOut: true }),
        timeoutMs + 20,
      );
      timer.unref();
      this.#host.jsonrpc(target, generation, method, params, timeoutMs).then(
        () => finish({ ok: true }),
        (error: unknown) =>
          finish({
            ok: false,
            reason: error instanceof Error ? error.message : String(error),
            timedOut: (error as { code?: unknown })?.code === 'ERR_ATOMVISOR_TIMEOUT',
          }),
      );
    });
  }

  /** Apply one result, in its own callback. Never awaits. */
  #apply(
    target: ProbeTarget,
    r: ReplicaState,
    probe: ResolvedProbe,
    generation: number,
    outcome: ProbeOutcome,
    latencyMs: number,
    round: Round,
  ): void {
    const started = performance.now();
    const s = this.#stats;
    s.inFlight--;
    r.probes[probe.name].inFlight = false;
    if (this.#closed) return;
    const { table } = this.#host;
    const state = table.state(target.slot);
    if (
      target.removed ||
      r.killed ||
      state.generation !== generation ||
      !LIVE_STATUS.has(state.status)
    ) {
      s.dropped++;
      this.#timeApply(started, round);
      return;
    }
    const name = probe.name;
    const ok = outcome.ok === true;
    const fields = table.fields(target.slot);
    const failures = ok ? 0 : countOf(fields.probeFailures, name) + 1;
    const successes = ok ? countOf(fields.probeSuccesses, name) + 1 : 0;
    table.publishAt(target.slot, generation, {
      probeFailures: withCount(fields.probeFailures, name, failures),
      probeSuccesses: withCount(fields.probeSuccesses, name, successes),
      lastProbeAt: table.now(),
      lastProbeMs: Math.round(latencyMs),
    });
    s.results++;
    if (ok) {
      s.ok++;
      s.byProbe[name].ok++;
    } else {
      s.failed++;
      s.byProbe[name].failed++;
      if (outcome.timedOut) s.timedOut++;
      if (outcome.config) s.configErrors++;
    }
    this.#latencies.add(latencyMs);

    let kill = false;
    const probes = target.spec.probes;
    switch (name) {
      case 'startup':
        if (ok) {
          r.startupPassed = true;
          const now = performance.now();
          r.probes.liveness.due = now + (probes.liveness?.initialDelayMs ?? 0);
          r.probes.readiness.due = now + (probes.readiness?.initialDelayMs ?? 0);
          if (probes.readiness === undefined)
            table.setFlags(target.slot, generation, 0, Flag.unready);
        } else if (failures >= probe.failureThreshold) kill = true;
        break;
      case 'liveness':
        if (!ok && failures >= probe.failureThreshold) kill = true;
        break;
      case 'readiness':
        if (ok && successes >= probe.successThreshold)
          table.setFlags(target.slot, generation, 0, Flag.unready);
        else if (!ok && failures >= probe.failureThreshold)
          table.setFlags(target.slot, generation, Flag.unready);
        break;
    }
    if (kill) {
      r.killed = true;
      s.kills++;
      this.#host.kill(target, generation);
    }
    this.#timeApply(started, round);

    // Outside the timed section: listeners are the user's code.
    const event: ProbeEvent = {
      key: target.key,
      slot: target.slot,
      probe: name,
      kind: probe.check.kind,
      ok,
      latencyMs,
      generation,
    };
    if (outcome.reason !== undefined) event.reason = outcome.reason;
    if (outcome.detail !== undefined) event.detail = outcome.detail;
    if (outcome.config) {
      event.config = true;
      event.error = new ProbeConfigError(target.key, name, outcome.reason ?? 'unknown');
    }
    this.#host.probe(event);
    if (kill) {
      this.#host.unhealthy({
        key: target.key,
        slot: target.slot,
        generation,
        pid: target.pid,
        probe: name === 'startup' ? 'startup' : 'liveness',
        failures,
        reason: outcome.reason,
      });
    }
  }

  #timeApply(started: number, round: Round): void {
    const us = Math.round((performance.now() - started) * 1000);
    if (us > this.#stats.maxApplyUs) this.#stats.maxApplyUs = us;
    if (us > round.maxApplyUs) round.maxApplyUs = us;
    round.sections.push({ part: 'apply', start: started, us });
  }
}
