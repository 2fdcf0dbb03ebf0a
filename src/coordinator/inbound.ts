/**
 * Inbound: what servers say on their own, delivered to the application — their requests answered
 * by its handlers, their notifications fanned out, and the output of processes that speak no
 * protocol. src/coordinator/handlers.ts has the lookup rules; this file applies them per message.
 *
 * Everything runs on the coordinator's thread, in the order the server sent it, and never waits
 * for a handler: a server request's answer is sent when the handler's promise settles (by the
 * Peer, which drops it if the process is gone by then), and a notification handler's promise is
 * not awaited, so a slow handler neither reorders nor holds up the messages after it. A handler
 * that throws (or rejects) is reported as a `handler-error` event, or — with nobody listening for
 * that — thrown as an uncaught exception, like a throwing event listener.
 */
import { InvalidArgumentError } from '../errors.ts';
import type { JsonRpcParams } from '../io/jsonrpc.ts';
import { describe } from '../shm/validate.ts';
import type { CoordinatorEvents } from './events.ts';
import type { Handlers as HandlerSet, NotificationHandler, PeerContext } from './handlers.ts';
import { Handlers } from './handlers.ts';
import type { Lease } from './lease.ts';
import { NO_HANDLER, type Peer } from './peer.ts';

/** The replica behind a slot, as inbound messages need it. */
export interface ReplicaInfo {
  key: string;
  replica: number;
  pid: number;
  /** spec.onRequest / spec.onNotification. */
  handlers: HandlerSet;
}

export interface InboundContext {
  replicaOf(slot: number): ReplicaInfo | undefined;
  /** The lease held on `slot` right now, if any. */
  leaseOf(slot: number): Lease | undefined;
  emit<E extends keyof CoordinatorEvents>(event: E, payload: CoordinatorEvents[E]): void;
  listens(event: keyof CoordinatorEvents): boolean;
}

export class Inbound {
  readonly #ctx: InboundContext;
  /** coordinator.onRequest / onNotification, by key (kept across register/unregister). */
  readonly #byKey = new Map<string, Handlers>();
  readonly counters = { serverRequests: 0, unhandled: 0 };

  constructor(ctx: InboundContext) {
    this.#ctx = ctx;
  }

  /** Add a key's handler (a request answerer or a notification listener); returns its remover. */
  add(
    kind: 'request' | 'notification',
    key: unknown,
    method: unknown,
    handler: unknown,
  ): () => void {
    if (typeof key !== 'string' || key.length === 0)
      throw new InvalidArgumentError('key', `expected a non-empty string, got ${describe(key)}`);
    let handlers = this.#byKey.get(key);
    if (handlers === undefined) {
      handlers = new Handlers();
      this.#byKey.set(key, handlers);
    }
    const remove = handlers.add(kind, method, handler);
    return () => {
      remove();
      if (handlers.size === 0 && this.#byKey.get(key) === handlers) this.#byKey.delete(key);
    };
  }

  /** A server request: the most specific handler's answer, or NO_HANDLER. */
  serverRequest(peer: Peer, method: string, params: JsonRpcParams, signal: AbortSignal): unknown {
    this.counters.serverRequests++;
    const replica = this.#ctx.replicaOf(peer.slot);
    if (replica === undefined) return NO_HANDLER;
    const lease = this.#liveLease(peer.slot);
    const handler =
      lease?.handlers.answerer(method) ??
      this.#byKey.get(replica.key)?.answerer(method) ??
      replica.handlers.answerer(method);
    if (handler === undefined) {
      this.counters.unhandled++;
      this.#ctx.emit('server-request', { key: replica.key, slot: peer.slot, method });
      return NO_HANDLER;
    }
    return handler(params, this.#context(peer, replica, lease, method, signal));
  }

  /** A notification: the lease's listeners, the key's, the spec's, the request callers', the event. */
  notification(peer: Peer, method: string, params: JsonRpcParams): void {
    const replica = this.#ctx.replicaOf(peer.slot);
    if (replica === undefined) return;
    const lease = this.#liveLease(peer.slot);
    const handlers: NotificationHandler[] = [];
    if (lease !== undefined) handlers.push(...lease.handlers.listeners(method));
    const byKey = this.#byKey.get(replica.key);
    if (byKey !== undefined) handlers.push(...byKey.listeners(method));
    handlers.push(...replica.handlers.listeners(method));
    if (handlers.length > 0) {
      const ctx = this.#context(peer, replica, lease, method, peer.signal);
      for (const handler of handlers)
        this.#call(replica.key, peer.slot, method, () => handler(params, ctx));
    }
    for (const listener of peer.listeners)
      this.#call(replica.key, peer.slot, method, () => listener(method, params));
    this.#ctx.emit('notification', { key: replica.key, slot: peer.slot, method, params });
  }

  /** A stdout line of a process that speaks no protocol. */
  stdout(slot: number, generation: number, line: () => string): void {
    if (!this.#ctx.listens('stdout')) return;
    const replica = this.#ctx.replicaOf(slot);
    if (replica !== undefined)
      this.#ctx.emit('stdout', { key: replica.key, slot, generation, line: line() });
  }

  #liveLease(slot: number): Lease | undefined {
    const lease = this.#ctx.leaseOf(slot);
    return lease === undefined || lease.released ? undefined : lease;
  }

  #context(
    peer: Peer,
    replica: ReplicaInfo,
    lease: Lease | undefined,
    method: string,
    signal: AbortSignal,
  ): PeerContext<Lease> {
    return {
      method,
      key: replica.key,
      replica: replica.replica,
      pid: replica.pid,
      generation: peer.generation,
      lease,
      signal,
    };
  }

  /** Run a notification handler; its throw or rejection is reported, never raised here. */
  #call(key: string, slot: number, method: string, run: () => unknown): void {
    const report = (error: unknown) => {
      if (this.#ctx.listens('handler-error'))
        this.#ctx.emit('handler-error', { key, slot, method, kind: 'notification', error });
      else
        queueMicrotask(() => {
          throw error;
        });
    };
    try {
      const result = run();
      if (result instanceof Promise) result.catch(report);
    } catch (error) {
      report(error);
    }
  }
}
