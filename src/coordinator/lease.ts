/**
 * Lease: exclusive use of one connection until released. The lease *is* the slot's lock (the
 * table's ready → leased CAS), so holding it blocks no one but the callers who want this very
 * connection — and they wait asynchronously, bounded, in the coordinator's queue.
 *
 *   await using lease = await coordinator.acquire('lsp');
 *   await lease.request('textDocument/hover', params);
 *   // released when the block ends (or call lease.release())
 */
import { NotLeaseHolderError } from '../errors.ts';
import type { RequestOptions } from './coordinator.ts';

export interface LeaseBackend {
  request(lease: Lease, method: string, params: unknown, options: RequestOptions): Promise<unknown>;
  notify(lease: Lease, method: string, params: unknown): Promise<void>;
  release(lease: Lease): void;
}

export class Lease {
  readonly key: string;
  readonly slot: number;
  readonly generation: number;
  readonly leaseId: number;
  readonly pid: number;
  /** Where acquire() was called from, kept for leak reports when leak detection is on. */
  readonly stack: string | undefined;
  readonly acquiredAt = performance.now();
  readonly #backend: LeaseBackend;
  #released = false;

  constructor(
    backend: LeaseBackend,
    fields: {
      key: string;
      slot: number;
      generation: number;
      leaseId: number;
      pid: number;
      stack: string | undefined;
    },
  ) {
    this.#backend = backend;
    this.key = fields.key;
    this.slot = fields.slot;
    this.generation = fields.generation;
    this.leaseId = fields.leaseId;
    this.pid = fields.pid;
    this.stack = fields.stack;
  }

  get released(): boolean {
    return this.#released;
  }

  /** A JSON-RPC request on the leased connection. */
  request<T = unknown>(method: string, params?: unknown, options: RequestOptions = {}): Promise<T> {
    if (this.#released) return Promise.reject(new NotLeaseHolderError(this.slot, this.leaseId));
    return this.#backend.request(this, method, params, options) as Promise<T>;
  }

  /** A JSON-RPC notification on the leased connection. */
  notify(method: string, params?: unknown): Promise<void> {
    if (this.#released) return Promise.reject(new NotLeaseHolderError(this.slot, this.leaseId));
    return this.#backend.notify(this, method, params);
  }

  /** Give the connection back. Idempotent. */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    this.#backend.release(this);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.release();
  }
}
