/**
 * Peer: one server process as the coordinator's thread sees it — the far end of one JSON-RPC
 * connection, for one (slot, generation), talking both ways. It lives on the main thread beside
 * the application, so a message is serialized once (here), travels as bytes (the IO worker only
 * frames and writes it), and what comes back is parsed once (here), where its reader is.
 *
 * - Our requests go through a RequestTracker: id correlation, maxInFlight / maxQueued, inactivity
 *   and total timeouts, cancellation on timeout or abort (MCP `notifications/cancelled`, or LSP
 *   `$/cancelRequest` for protocol 'lsp'), MCP progress.
 * - A server that does not read its stdin holds the tracker (`stdinBlocked`): requests and
 *   notifications queue here, in order, bounded by maxQueued, instead of piling up in the IO
 *   worker's pipe buffer.
 * - The server's own requests are answered through `hooks.serverRequest` (the application's
 *   handlers): each gets an AbortSignal that aborts when the process goes or the server cancels
 *   the request. No handler: -32601 at once.
 * - Its notifications go to `hooks.notification`, in the order it sent them.
 * - `close(error)` (the process exited, its IO worker died, the coordinator closes) fails every
 *   pending and later request with that error, and aborts every server request still being
 *   answered (their late answers are dropped: nobody is there to read them).
 */
import { JsonRpcError, NotRunningError } from '../errors.ts';
import type { FramingProtocol } from '../io/framing.ts';
import {
  type Classified,
  classify,
  errorResponseJson,
  JsonRpcErrorCode,
  type JsonRpcErrorObject,
  type JsonRpcId,
  type JsonRpcParams,
  notificationJson,
  responseJson,
} from '../io/jsonrpc.ts';
import {
  CANCELLED_METHOD,
  LSP_CANCEL_METHOD,
  lspCancelNotification,
  mcpCancelNotification,
  PROGRESS_METHOD,
} from '../io/request-conventions.ts';
import { RequestTracker, type StartOptions } from '../io/request-tracker.ts';

/** LSP's error code for a request that was cancelled. */
const REQUEST_CANCELLED = -32800;

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
  /** A notification from the server, in its order. */
  notification(peer: Peer, method: string, params: JsonRpcParams): void;
  /**
   * A request from the server: the answer (a value or a promise of it; a throw or rejection is
   * the error to send), or NO_HANDLER when the application has none for `method`.
   */
  serverRequest(peer: Peer, method: string, params: JsonRpcParams, signal: AbortSignal): unknown;
  /** A message that is not valid JSON-RPC. */
  invalid(peer: Peer, reason: string): void;
  /** One of our requests settled (before its promise does), with the context it was sent with. */
  settled(context: unknown, failed: boolean): void;
}

/** What `PeerHooks.serverRequest` returns when nobody answers `method`. */
export const NO_HANDLER: unique symbol = Symbol('no handler');

interface Serving {
  controller: AbortController;
  /** The server cancelled it (MCP: send nothing after that; LSP: still answer). */
  cancelled: boolean;
}

export class Peer {
  readonly slot: number;
  readonly generation: number;
  readonly protocol: FramingProtocol;
  readonly #tracker: RequestTracker;
  readonly #hooks: PeerHooks;
  /** Aborts when the process is gone: the `signal` handlers of its notifications get. */
  readonly #lifetime = new AbortController();
  /** Server requests being answered, by id. */
  readonly #serving = new Map<JsonRpcId, Serving>();
  /** request(…, { onNotification }) callers, while their request is pending. */
  readonly #listeners = new Set<(method: string, params: unknown) => void>();
  #closed = false;

  constructor(
    slot: number,
    generation: number,
    protocol: FramingProtocol,
    limits: PeerLimits,
    hooks: PeerHooks,
  ) {
    this.slot = slot;
    this.generation = generation;
    this.protocol = protocol;
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
      cancelNotification: protocol === 'lsp' ? lspCancelNotification : mcpCancelNotification,
      onSettled: hooks.settled,
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Aborts when the process is gone. */
  get signal(): AbortSignal {
    return this.#lifetime.signal;
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

  /** Server requests the application is answering right now. */
  get serving(): number {
    return this.#serving.size;
  }

  /** Send a request; `options.context` goes to `hooks.settled` when it settles. */
  request(method: string, params: unknown, options: StartOptions = {}): Promise<unknown> {
    return this.#tracker.request(method, params as JsonRpcParams, options);
  }

  notify(method: string, params?: unknown): void {
    if (this.#closed)
      throw new NotRunningError(`the process of slot ${this.slot} (generation ${this.generation})`);
    // Through the tracker: behind requests still waiting to be written, bounded by maxQueued.
    this.#tracker.send(notificationJson(method, params as JsonRpcParams));
  }

  /** Hear every notification from now until the returned function is called. */
  listen(listener: (method: string, params: unknown) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** The request(…, { onNotification }) listeners, for the router to call in order. */
  get listeners(): ReadonlySet<(method: string, params: unknown) => void> {
    return this.#listeners;
  }

  /** One message the server wrote (its JSON text). */
  onMessage(text: string): void {
    const message: Classified = classify(text);
    switch (message.kind) {
      case 'response':
      case 'error-response':
        this.#tracker.handle(message);
        return;
      case 'notification': {
        const { method, params } = message;
        // Progress belongs to a request of ours (it resets its inactivity limit); it is not
        // reported as a notification, matched or not.
        if (method === PROGRESS_METHOD) {
          this.#tracker.handle(message);
          return;
        }
        if (method === CANCELLED_METHOD || method === LSP_CANCEL_METHOD) this.#cancelled(params);
        this.#hooks.notification(this, method, params);
        return;
      }
      case 'request':
        this.#serve(message.id, message.method, message.params);
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
    if (this.#closed) return;
    this.#closed = true;
    this.#tracker.close(error);
    for (const serving of this.#serving.values()) serving.controller.abort(error);
    this.#serving.clear();
    this.#listeners.clear();
    this.#lifetime.abort(error);
  }

  #serve(id: JsonRpcId, method: string, params: JsonRpcParams): void {
    if (this.#closed) return;
    const serving: Serving = { controller: new AbortController(), cancelled: false };
    let answer: unknown;
    try {
      answer = this.#hooks.serverRequest(this, method, params, serving.controller.signal);
    } catch (error) {
      answer = Promise.reject(error);
    }
    if (answer === NO_HANDLER) {
      this.#hooks.send(
        this,
        errorResponseJson(id, {
          code: JsonRpcErrorCode.MethodNotFound,
          message: `${method} is not supported by this client`,
        }),
      );
      return;
    }
    // A server may reuse an id only once its request is answered: the latest one owns it.
    this.#serving.set(id, serving);
    Promise.resolve(answer).then(
      (result) => this.#answer(id, serving, true, result),
      (error: unknown) => this.#answer(id, serving, false, error),
    );
  }

  #answer(id: JsonRpcId, serving: Serving, ok: boolean, value: unknown): void {
    if (this.#serving.get(id) !== serving) return; // the process is gone: nobody to answer
    this.#serving.delete(id);
    if (serving.cancelled && this.protocol !== 'lsp') return; // MCP: no answer after a cancel
    let text: string;
    if (ok) {
      try {
        text = responseJson(id, value);
      } catch (cause) {
        text = errorResponseJson(id, rpcError(cause)); // a result that is not JSON
      }
    } else {
      text = errorResponseJson(
        id,
        serving.cancelled ? { code: REQUEST_CANCELLED, message: 'cancelled' } : rpcError(value),
      );
    }
    this.#hooks.send(this, text);
  }

  /** The server gave up a request it made: abort its handler's signal. */
  #cancelled(params: JsonRpcParams): void {
    if (params === undefined || Array.isArray(params)) return;
    const id = (params.requestId ?? params.id) as JsonRpcId | undefined;
    if (id === undefined) return;
    const serving = this.#serving.get(id);
    if (serving === undefined || serving.cancelled) return;
    serving.cancelled = true;
    const reason = typeof params.reason === 'string' ? params.reason : 'cancelled by the server';
    serving.controller.abort(new Error(reason));
  }
}

/** A handler's throw as a JSON-RPC error: `{ code, message, data }` as thrown, else -32603. */
function rpcError(error: unknown): JsonRpcErrorObject {
  if (error instanceof JsonRpcError)
    return {
      code: error.rpcCode,
      message: error.rpcMessage,
      ...(error.data === undefined ? {} : { data: error.data }),
    };
  if (error !== null && typeof error === 'object') {
    const { code, message, data } = error as { code?: unknown; message?: unknown; data?: unknown };
    if (Number.isInteger(code) && typeof message === 'string')
      return { code: code as number, message, ...(data === undefined ? {} : { data }) };
  }
  const message = error instanceof Error ? error.message : String(error);
  return { code: JsonRpcErrorCode.InternalError, message };
}
