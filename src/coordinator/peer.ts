/**
 * Peer: one server process as the coordinator's thread sees it — the far end of one JSON-RPC
 * connection, for one (slot, generation). It lives on the main thread beside the caller, so a
 * request is serialized once (here), travels as bytes (the IO worker only frames and writes it),
 * and its response is parsed once (here), where the caller's promise is.
 *
 * - Requests go through a RequestTracker: id correlation, maxInFlight / maxQueued, inactivity and
 *   total timeouts, cancellation (`notifications/cancelled`) on timeout or abort, progress.
 * - A server that does not read its stdin holds the tracker (`stdinBlocked`): requests queue
 *   here, bounded by maxQueued, instead of piling up in the IO worker's pipe buffer.
 * - What the server sends on its own — notifications, requests of its own, unparseable lines —
 *   goes to the hooks the Router gives it.
 * - `close(error)` (the process exited, its IO worker died, the coordinator closes) fails every
 *   pending and later request with that error at once.
 */
import { NotRunningError } from '../errors.ts';
import {
  type Classified,
  classify,
  errorResponseJson,
  JsonRpcErrorCode,
  type JsonRpcParams,
  notificationJson,
} from '../io/jsonrpc.ts';
import { PROGRESS_METHOD, RequestTracker, type StartOptions } from '../io/request-tracker.ts';

export interface PeerLimits {
  maxInFlight: number;
  maxQueued: number;
  /** Default inactivity limit of a request (Infinity: none). */
  timeoutMs: number;
  /** Default total limit of a request; undefined: none. */
  totalTimeoutMs: number | undefined;
}

export interface PeerHooks {
  /** Put one message (JSON text) on the wire to this process; false when it cannot be sent. */
  send(peer: Peer, text: string): boolean;
  notification(peer: Peer, method: string, params: JsonRpcParams): void;
  /** The server asked the client something (`method`); it has been answered already. */
  serverRequest(peer: Peer, method: string): void;
  /** A message that is not valid JSON-RPC. */
  invalid(peer: Peer, reason: string): void;
}

export class Peer {
  readonly slot: number;
  readonly generation: number;
  readonly #tracker: RequestTracker;
  readonly #hooks: PeerHooks;
  #closed = false;

  constructor(slot: number, generation: number, limits: PeerLimits, hooks: PeerHooks) {
    this.slot = slot;
    this.generation = generation;
    this.#hooks = hooks;
    this.#tracker = new RequestTracker({
      write: (text) => {
        if (!hooks.send(this, text))
          throw new NotRunningError(`the process of slot ${slot} (generation ${generation})`);
      },
      maxInFlight: limits.maxInFlight,
      maxQueued: limits.maxQueued,
      timeoutMs: limits.timeoutMs,
      ...(limits.totalTimeoutMs === undefined ? {} : { totalTimeoutMs: limits.totalTimeoutMs }),
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Requests are held: the server has not read what it was sent. */
  get held(): boolean {
    return this.#tracker.held;
  }

  /** Requests sent and not answered, and requests queued behind them. */
  get load(): { inFlight: number; queued: number } {
    const { inFlight, queued } = this.#tracker.stats;
    return { inFlight, queued };
  }

  request(method: string, params: unknown, options: StartOptions = {}): Promise<unknown> {
    return this.#tracker.start(method, params as JsonRpcParams, options).promise;
  }

  notify(method: string, params?: unknown): void {
    if (this.#closed)
      throw new NotRunningError(`the process of slot ${this.slot} (generation ${this.generation})`);
    this.#hooks.send(this, notificationJson(method, params as JsonRpcParams));
  }

  /** One message the server wrote (its JSON text). */
  onMessage(text: string): void {
    const message: Classified = classify(text);
    switch (message.kind) {
      case 'response':
      case 'error-response':
        this.#tracker.handle(message);
        return;
      case 'notification':
        // Progress belongs to a request of ours (it resets its inactivity limit); it is not
        // reported as a notification, matched or not.
        if (message.method === PROGRESS_METHOD) this.#tracker.handle(message);
        else this.#hooks.notification(this, message.method, message.params);
        return;
      case 'request':
        // Server-to-client requests (MCP sampling, roots, ...) are not offered: answer at once so
        // the server does not wait for ever.
        this.#hooks.send(
          this,
          errorResponseJson(message.id, {
            code: JsonRpcErrorCode.MethodNotFound,
            message: `${message.method} is not supported by this client`,
          }),
        );
        this.#hooks.serverRequest(this, message.method);
        return;
      case 'invalid':
        this.#hooks.invalid(this, message.reason);
        return;
    }
  }

  /** The server stopped reading its stdin (or started again): hold requests here meanwhile. */
  stdinBlocked(blocked: boolean): void {
    if (blocked) this.#tracker.hold();
    else this.#tracker.resume();
  }

  /** The process is gone: fail everything pending, and everything sent from now on. */
  close(error: unknown): void {
    this.#closed = true;
    this.#tracker.close(error);
  }
}
