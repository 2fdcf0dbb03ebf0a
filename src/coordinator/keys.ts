/**
 * The life of a key's replica group, behind the coordinator's register, unregister, restart,
 * reload and scale (which check their arguments and call these): claiming slots and creating a
 * Supervisor per replica, starting them, adding and stopping replicas, rolling restarts
 * (reload.ts has their rules), and removing a key — its waiters failed, its processes drained and
 * stopped, its slots forgotten by the registry, the leases and the probe scheduler.
 *
 * Stopping never holds anything while it waits (docs/architecture.md, F2): each Supervisor moves
 * its slot to draining by CAS, waits for in-flight work with nothing held, then stops the group.
 */
import { ClosedError, InvalidArgumentError } from '../errors.ts';
import type { ProbeScheduler } from '../probes/scheduler.ts';
import type { Leases } from './leases.ts';
import type { Queues } from './queues.ts';
import type { Core, Entry } from './registry.ts';
import { type ReloadReport, rollReplicas } from './reload.ts';
import type { ResolvedSpec } from './spec.ts';
import { Supervisor, type SupervisorContext } from './supervisor.ts';

export interface KeysContext extends Core {
  readonly queues: Queues;
  readonly leases: Leases;
  readonly probes: ProbeScheduler;
  readonly supervisors: SupervisorContext;
}

export class Keys {
  readonly #ctx: KeysContext;

  constructor(ctx: KeysContext) {
    this.#ctx = ctx;
  }

  /**
   * Add `key` with `replicas` processes from `spec` and start them all. Resolves once each has
   * passed its start handshake; if one's first start fails, the key is removed again and that
   * start's error is thrown (field `field` names the replica count when the table is full).
   */
  async add(key: string, spec: ResolvedSpec, replicas: number, field: string): Promise<void> {
    const { registry, probes } = this.#ctx;
    const entry = this.#ctx.queues.entry(key, spec);
    for (let i = 0; i < replicas; i++) {
      if (this.#addReplica(entry) === undefined) {
        await this.remove(entry, 0);
        throw this.#full(field);
      }
    }
    registry.entries.set(key, entry);
    await Promise.all([...entry.replicas.map((s) => s.start()), probes.refresh().catch(() => {})]);
    if (entry.removing || this.#ctx.closing()) throw new ClosedError('the coordinator');
    const failed = entry.replicas.find((s) => s.status !== 'ready' && s.lastError !== undefined);
    if (failed !== undefined) {
      await this.remove(entry, 0);
      throw failed.lastError;
    }
  }

  /** Fail `entry`'s waiters, drain and stop its processes (up to `drainMs`), forget the key. */
  async remove(entry: Entry, drainMs: number): Promise<void> {
    entry.removing = true;
    entry.queue.rejectAll(new ClosedError(`connection ${JSON.stringify(entry.key)}`));
    await Promise.all(entry.replicas.map((s) => s.stop({ drainMs, remove: true })));
    this.#forget(entry.replicas);
    if (!this.#ctx.closing()) void this.#ctx.probes.refresh().catch(() => {});
    const { entries } = this.#ctx.registry;
    if (entries.get(entry.key) === entry) entries.delete(entry.key);
  }

  /** Start failed (breaker tripped) and stopped replicas again, with a fresh restart history. */
  async restart(entry: Entry): Promise<void> {
    await Promise.all(
      entry.replicas.map((s) => {
        s.resetPolicy();
        return s.status === 'failed' || s.status === 'exited' ? s.start() : undefined;
      }),
    );
  }

  /** Roll `entry`'s replicas one at a time (reload.ts), onto `spec` when one is given. */
  async reload(
    entry: Entry,
    drainMs: number,
    readyTimeoutMs: number,
    spec: ResolvedSpec | undefined,
  ): Promise<ReloadReport> {
    if (spec !== undefined) entry.spec = spec;
    const report = await rollReplicas(entry.key, [...entry.replicas], {
      table: this.#ctx.table,
      cancelled: (s) => this.#ctx.closing() || s.removed || entry.removing,
      drainMs,
      readyTimeoutMs,
      ...(spec === undefined ? {} : { prepare: (s: Supervisor) => s.useSpec(spec) }),
    });
    if (spec !== undefined) void this.#ctx.probes.refresh().catch(() => {});
    return report;
  }

  /**
   * Give `entry` `target` replicas: new ones after the others (started; resolves once each has
   * passed its handshake or failed it), or the last ones stopped (drained up to `drainMs`) and
   * their slots freed.
   */
  async scale(entry: Entry, target: number, drainMs: number): Promise<void> {
    const { probes } = this.#ctx;
    if (target < entry.replicas.length) {
      const gone = entry.replicas.slice(target);
      await Promise.all(gone.map((s) => s.stop({ drainMs, remove: true })));
      entry.replicas = entry.replicas.filter((s) => !gone.includes(s));
      this.#forget(gone);
      void probes.refresh().catch(() => {});
      return;
    }
    const added: Supervisor[] = [];
    while (entry.replicas.length < target) {
      const supervisor = this.#addReplica(entry);
      if (supervisor === undefined) throw this.#full('replicas');
      added.push(supervisor);
    }
    await Promise.all([...added.map((s) => s.start()), probes.refresh().catch(() => {})]);
  }

  /** A new replica of `entry` in a free slot (not started yet); undefined when the table is full. */
  #addReplica(entry: Entry): Supervisor | undefined {
    const claimed = this.#ctx.table.claim();
    if (claimed === undefined) return undefined;
    const supervisor = new Supervisor(this.#ctx.supervisors, entry.key, claimed.slot, entry.spec);
    entry.replicas.push(supervisor);
    this.#ctx.registry.bySlot.set(claimed.slot, supervisor);
    return supervisor;
  }

  /** These replicas are gone (stopped and their slots freed): forget their slots everywhere. */
  #forget(replicas: readonly Supervisor[]): void {
    for (const s of replicas) {
      this.#ctx.registry.bySlot.delete(s.slot);
      this.#ctx.leases.forget(s.slot);
      this.#ctx.probes.forget(s.slot);
    }
  }

  #full(field: string): InvalidArgumentError {
    return new InvalidArgumentError(
      field,
      `the slot table is full (capacity ${this.#ctx.options.capacity})`,
    );
  }
}
