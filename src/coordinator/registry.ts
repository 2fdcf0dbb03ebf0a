/**
 * The coordinator's registry: which keys exist (key → Entry: its spec, its replicas' Supervisors,
 * its wait queue) and which Supervisor runs in which slot. Plain JS on the coordinator's thread,
 * the only thread that writes it, so it needs no lock (docs/architecture.md, "Threads"). The
 * coordinator's parts (queues, leases, housekeeping, IO events, stats) all look things up here,
 * and each gets the `Core` below: what they all share.
 */
import { ClosedError, InvalidArgumentError } from '../errors.ts';
import type { SlotTable } from '../table/slot-table.ts';
import type { WaitQueue } from '../table/wait-queue.ts';
import type { CoordinatorEvents } from './events.ts';
import type { ResolvedOptions } from './options.ts';
import type { ResolvedSpec } from './spec.ts';
import type { Supervisor } from './supervisor.ts';

/** What a queued caller waits for: a lease (acquire) or a ready replica (request). */
export type Want = { readonly kind: 'lease'; readonly stack: string | undefined } | Requesting;
export type Requesting = { readonly kind: 'request' };

/** A key's queue: waiters of both kinds, served in order; the hint is the replica made usable. */
export type KeyQueue = WaitQueue<unknown, Want, Supervisor>;

export interface Entry {
  readonly key: string;
  /** The spec new replicas start from: register's, or the last reload({ spec })'s. */
  spec: ResolvedSpec;
  replicas: Supervisor[];
  /**
   * Callers waiting for a usable replica, FIFO (queues.ts). Failed with the reason when the key
   * fails or closes; its size is what maxWaiting bounds and what stats() reports.
   */
  readonly queue: KeyQueue;
  removing: boolean;
}

/** What every part of the coordinator shares (built once by the coordinator). */
export interface Core {
  readonly table: SlotTable;
  readonly registry: Registry;
  readonly options: ResolvedOptions;
  /** Is the coordinator closing? */
  closing(): boolean;
  emit<E extends keyof CoordinatorEvents>(event: E, payload: CoordinatorEvents[E]): void;
  /** A replica of `key` changed (started, stopped, exited, failed): serve or fail its waiters. */
  changed(key: string): void;
}

export class Registry {
  readonly entries = new Map<string, Entry>();
  readonly bySlot = new Map<number, Supervisor>();

  /** The entry of `key`; throws ClosedError while closing, else InvalidArgumentError. */
  entry(key: string, closing: boolean): Entry {
    const entry = this.entries.get(key);
    if (entry === undefined) {
      if (closing) throw new ClosedError('the coordinator');
      throw new InvalidArgumentError(
        'key',
        `no connection is registered under ${JSON.stringify(key)}`,
      );
    }
    return entry;
  }

  /** The entry `slot`'s replica belongs to, if any. */
  entryOfSlot(slot: number): { entry: Entry; supervisor: Supervisor } | undefined {
    const supervisor = this.bySlot.get(slot);
    const entry = supervisor === undefined ? undefined : this.entries.get(supervisor.key);
    return entry === undefined ? undefined : { entry, supervisor: supervisor as Supervisor };
  }

  /** The supervisor in `slot`; throws ClosedError when the slot no longer has one. */
  supervisor(slot: number): Supervisor {
    const s = this.bySlot.get(slot);
    if (s === undefined) throw new ClosedError(`the connection in slot ${slot}`);
    return s;
  }

  /** Which replica of its key `s` is (0-based), or -1. */
  replicaIndex(s: Supervisor): number {
    return this.entries.get(s.key)?.replicas.indexOf(s) ?? -1;
  }
}
