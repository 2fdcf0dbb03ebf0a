/**
 * Routing: the coordinator's side of the data plane. It keeps one Peer per running process (by
 * slot; each for one generation), sends requests to them, and dispatches everything the IO
 * workers report — read from their rings, one batch per wake-up — to the peer or the coordinator
 * it concerns.
 *
 * The route of one request, file by file:
 *   coordinator.ts  request(): choose a ready replica and count it in flight (#admit), or queue
 *   routing.ts      send(): timing, counters, diagnostics, then the replica's Peer
 *   peer.ts         RequestTracker.start(): id, JSON text, timers; FrameSender into the ring
 *   io/frames.ts    one publish per microtask turn; the IO worker wakes if it sleeps
 *   io/io-host.ts   the worker frames it and writes every frame of the batch to stdin at once;
 *                   the server's reply comes back as bytes in the ring the other way
 *   routing.ts      onFrame(): text → Peer.onMessage → classify → the tracker settles the promise
 * No comlink and no structured clone on that path: comlink is only for spawn, stop and pids.
 */
import { ConnectionLostError, InvalidArgumentError, NotRunningError } from '../errors.ts';
import { FrameKind, type MessageHandler, type Utf8Buffer } from '../io/frames.ts';
import type { FramingProtocol } from '../io/framing.ts';
import type { IoEvent } from '../io/io-host.ts';
import type { StartOptions } from '../io/request-tracker.ts';
import { errorCode, type RequestMessage, requestChannel } from './diagnostics.ts';
import type { CoordinatorEvents } from './events.ts';
import { Inbound, type InboundContext } from './inbound.ts';
import type { IoPool } from './io-pool.ts';
import type { ResolvedOptions } from './options.ts';
import { Peer, type PeerHooks } from './peer.ts';
import type { RequestOptions } from './types.ts';

/** The replica a request goes to, as routing needs it. */
export interface RequestTarget {
  readonly key: string;
  readonly slot: number;
  /** A request counted in flight on it is over (answered, failed, or never sent). */
  requestDone(): void;
}

export interface RouterContext extends Omit<InboundContext, 'emit'> {
  readonly coordinatorId: number;
  readonly io: IoPool;
  readonly options: ResolvedOptions;
  /** The key a slot belongs to now, if any. */
  keyOf(slot: number): string | undefined;
  emit<E extends keyof CoordinatorEvents>(event: E, payload: CoordinatorEvents[E]): void;
  /** Events about processes the coordinator itself acts on: exit, memory. */
  ioEvent(event: IoEvent): void;
}

export class Router {
  readonly #ctx: RouterContext;
  readonly #peers = new Map<number, Peer>();
  #nextProgressToken = 1;
  readonly counters = { requests: 0, failed: 0, protocol: 0 };
  /** What servers say on their own, and the application's handlers for it. */
  readonly inbound: Inbound;

  constructor(ctx: RouterContext) {
    this.#ctx = ctx;
    this.inbound = new Inbound({
      replicaOf: (slot) => ctx.replicaOf(slot),
      leaseOf: (slot) => ctx.leaseOf(slot),
      emit: (event, payload) => ctx.emit(event, payload),
      listens: (event) => ctx.listens(event),
    });
  }

  /**
   * A process is about to start in `slot` as `generation`: its peer exists before the process
   * does, so nothing it says (or its exit) can arrive before there is someone to hear it. A peer
   * of an older generation still open there is closed.
   */
  open(slot: number, generation: number, protocol: FramingProtocol): Peer {
    this.#peers.get(slot)?.close(new ConnectionLostError(null, null, 'it was replaced'));
    const { options } = this.#ctx;
    const peer = new Peer(
      slot,
      generation,
      protocol,
      {
        maxInFlight: options.maxInFlight,
        maxQueued: options.maxQueued,
        timeoutMs: options.requestTimeoutMs,
        totalTimeoutMs: options.maxTotalTimeoutMs,
      },
      this.#hooks,
    );
    this.#peers.set(slot, peer);
    return peer;
  }

  /** The open peer of (`slot`, `generation`), or undefined if that process is gone. */
  peer(slot: number, generation: number): Peer | undefined {
    const peer = this.#peers.get(slot);
    return peer !== undefined && peer.generation === generation && !peer.closed ? peer : undefined;
  }

  /** Fail the pending requests of `slot`'s process (of `generation`, if given) and forget it. */
  close(slot: number, generation: number | undefined, error: unknown): void {
    const peer = this.#peers.get(slot);
    if (peer === undefined || (generation !== undefined && peer.generation !== generation)) return;
    this.#peers.delete(slot);
    peer.close(error);
  }

  /** How many processes are not reading their stdin (their requests are held). */
  stdinBlocked(): number {
    let n = 0;
    for (const peer of this.#peers.values()) if (peer.held) n++;
    return n;
  }

  /** Fail what is still pending anywhere (the coordinator closed). */
  closeAll(error: unknown): void {
    for (const slot of [...this.#peers.keys()]) this.close(slot, undefined, error);
  }

  /**
   * A request to `target`'s process of `generation`, counted and (with a diagnostics subscriber)
   * timed and published. `target.requestDone()` runs once it settles, whatever the outcome.
   */
  send(
    target: RequestTarget,
    generation: number,
    method: string,
    params: unknown,
    options: RequestOptions,
    /** How request() waited for this replica; undefined for a request through a lease. */
    waitMs: number | undefined,
  ): Promise<unknown> {
    const signal = options.signal;
    if (signal?.aborted) {
      target.requestDone();
      return Promise.reject(signal.reason);
    }
    if (requestChannel.hasSubscribers || options.onNotification !== undefined)
      return this.#sendObserved(target, generation, method, params, options, waitMs);
    // The hot path: the tracker's own promise goes back to the caller, and the accounting runs
    // in its settle hook (#hooks.settled) — no wrapper promise, no extra turn.
    this.counters.requests++;
    try {
      const peer = this.#live(target, generation);
      const start = this.#startOptions(options);
      start.context = target;
      return peer.request(method, params, start);
    } catch (error) {
      // Refused before it was sent (no process, protocol 'none', bad params).
      this.counters.failed++;
      target.requestDone();
      return Promise.reject(error);
    }
  }

  /** send() for a request someone watches: timed for diagnostics, notifications to its caller. */
  async #sendObserved(
    target: RequestTarget,
    generation: number,
    method: string,
    params: unknown,
    options: RequestOptions,
    waitMs: number | undefined,
  ): Promise<unknown> {
    const sentAt = requestChannel.hasSubscribers ? performance.now() : -1;
    this.counters.requests++;
    let failure: unknown;
    try {
      const peer = this.#live(target, generation);
      const start = this.#startOptions(options);
      if (options.onNotification === undefined) return await peer.request(method, params, start);
      const stop = peer.listen(options.onNotification);
      try {
        return await peer.request(method, params, start);
      } finally {
        stop();
      }
    } catch (error) {
      this.counters.failed++;
      failure = error ?? new Error('request failed');
      throw error;
    } finally {
      if (sentAt >= 0 && requestChannel.hasSubscribers) {
        requestChannel.publish({
          coordinator: this.#ctx.coordinatorId,
          key: target.key,
          slot: target.slot,
          generation,
          method,
          waitMs: waitMs ?? 0,
          durationMs: performance.now() - sentAt,
          ok: failure === undefined,
          ...(failure === undefined ? {} : { error: errorCode(failure) }),
          leased: waitMs === undefined,
        } satisfies RequestMessage);
      }
      target.requestDone();
    }
  }

  /** The open peer for a request to `target` of `generation`; throws if it cannot take one. */
  #live(target: RequestTarget, generation: number): Peer {
    const peer = this.peer(target.slot, generation);
    if (peer === undefined)
      throw new NotRunningError(`the process of slot ${target.slot} (generation ${generation})`);
    if (peer.protocol === 'none') throw noProtocol(target.key);
    return peer;
  }

  /** A notification to `slot`'s process of `generation`. */
  notify(slot: number, generation: number, method: string, params: unknown): void {
    const peer = this.peer(slot, generation);
    if (peer === undefined)
      throw new NotRunningError(`the process of slot ${slot} (generation ${generation})`);
    if (peer.protocol === 'none') throw noProtocol(this.#ctx.keyOf(slot) ?? `slot ${slot}`);
    peer.notify(method, params);
  }

  /** Everything the IO workers report, frame by frame (src/io/frames.ts). */
  readonly onFrame: MessageHandler = (kind, slot, generation, data, start, end) => {
    switch (kind) {
      case FrameKind.MESSAGE: {
        const peer = this.#peers.get(slot);
        if (peer !== undefined && peer.generation === generation)
          peer.onMessage((data as Utf8Buffer).utf8Slice(start, end));
        return;
      }
      case FrameKind.STDOUT:
        this.inbound.stdout(slot, generation, () => (data as Utf8Buffer).utf8Slice(start, end));
        return;
      case FrameKind.STDERR: {
        const key = this.#ctx.keyOf(slot);
        if (key !== undefined)
          this.#ctx.emit('stderr', {
            key,
            slot,
            generation,
            line: data.toString('utf8', start, end),
          });
        return;
      }
      case FrameKind.EVENT:
        this.#onEvent(JSON.parse(data.toString('utf8', start, end)) as IoEvent);
        return;
    }
  };

  #onEvent(event: IoEvent): void {
    switch (event.type) {
      case 'exit':
        // The process's last messages were read before this (one ordered ring); whatever is
        // still pending will never be answered.
        this.close(event.slot, event.generation, new ConnectionLostError(event.code, event.signal));
        this.#ctx.ioEvent(event);
        return;
      case 'stdin':
        this.peer(event.slot, event.generation)?.stdinBlocked(event.blocked);
        return;
      case 'protocol': {
        this.counters.protocol++;
        const key = this.#ctx.keyOf(event.slot);
        if (key !== undefined) {
          const { slot, problem, detail } = event;
          this.#ctx.emit('protocol', { key, slot, problem, detail });
        }
        return;
      }
      default:
        this.#ctx.ioEvent(event);
    }
  }

  #startOptions(options: RequestOptions): StartOptions {
    const start: StartOptions = {};
    if (options.timeoutMs !== undefined) start.timeoutMs = options.timeoutMs;
    if (options.totalTimeoutMs !== undefined) start.totalTimeoutMs = options.totalTimeoutMs;
    if (options.signal !== undefined) start.signal = options.signal;
    const onProgress = options.onProgress;
    if (onProgress !== undefined) {
      start.progressToken = `atomvisor-${this.#nextProgressToken++}`;
      start.onProgress = onProgress;
    }
    return start;
  }

  readonly #hooks: PeerHooks = {
    send: (peer, text) => this.#ctx.io.send(peer.slot, peer.generation, text),
    notification: (peer, method, params) => this.inbound.notification(peer, method, params),
    serverRequest: (peer, method, params, signal) =>
      this.inbound.serverRequest(peer, method, params, signal),
    settled: (context, failed) => {
      // The context of a counted request is its RequestTarget (send()); others have none.
      if (context === undefined) return;
      if (failed) this.counters.failed++;
      (context as RequestTarget).requestDone();
    },
    invalid: (peer, reason) => {
      this.counters.protocol++;
      const key = this.#ctx.keyOf(peer.slot);
      if (key !== undefined)
        this.#ctx.emit('protocol', { key, slot: peer.slot, problem: 'invalid', detail: reason });
    },
  };
}

/** The error for a request or notification to a process that speaks no protocol. */
export function noProtocol(key: string): InvalidArgumentError {
  return new InvalidArgumentError(
    'spec.protocol',
    `${JSON.stringify(key)} runs with protocol 'none': it takes no requests or notifications`,
  );
}
