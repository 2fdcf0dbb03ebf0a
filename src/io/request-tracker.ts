/**
 * Client side of one JSON-RPC connection: allocates request ids, bounds the requests in flight,
 * and settles each request exactly once — by its response, its error response, a timeout, its
 * abort signal, or `failAll()` when the connection dies.
 *
 * Guarantees:
 * - At most `maxInFlight` requests are written to the server at once; the rest wait in a FIFO of
 *   at most `maxQueued` (beyond it `start` rejects with QueueFullError). A queued request is
 *   written (through `write`) only when a slot frees, in start order.
 * - One-way messages (`send`: notifications) keep their place among the requests: written at
 *   once when nothing waits, else queued behind the waiting requests — so the server reads
 *   everything in the order it was sent — and counted against `maxQueued` (QueueFullError). They
 *   take no in-flight slot. `failAll` drops queued ones (nobody waits for them).
 * - `timeoutMs` is an inactivity limit: it runs from `start`, restarts when the request is written
 *   and on every MCP `notifications/progress` carrying the request's progress token.
 *   `totalTimeoutMs` caps the whole request, progress or not. Both reject with TimeoutError.
 * - A request the server has seen and that ends by timeout or abort gets a cancel notification
 *   (MCP `notifications/cancelled` by default) written through `write`.
 * - Nothing outlives a settled request: its abort listener is removed, and the one timer every
 *   pending request's limits share (armed for the earliest of them) is cleared once nothing is
 *   pending. A request's limits cost a clock read, not a timer each.
 * - Responses to unknown ids are counted as `unmatched`, never thrown.
 */
import {
  ConnectionLostError,
  InvalidArgumentError,
  JsonRpcError,
  QueueFullError,
  TimeoutError,
} from '../errors.ts';
import { checkInteger, checkTimeout } from '../shm/validate.ts';
import { type Classified, type JsonRpcParams, requestJson } from './jsonrpc.ts';
import {
  type CancelEncoder,
  hasMeta,
  mcpCancelNotification,
  PROGRESS_METHOD,
  type ProgressToken,
  withProgressToken,
} from './request-conventions.ts';

export const DEFAULT_MAX_IN_FLIGHT = 64;
export const DEFAULT_MAX_QUEUED = 1024;
/** The MCP SDK's default request timeout. */
export const DEFAULT_TIMEOUT_MS = 60_000;

export interface RequestTrackerOptions {
  /**
   * Sends one message (a request or a cancel notification) to the server, as JSON text without
   * framing: whoever owns the connection frames it. May throw.
   */
  write: (text: string) => void;
  /** Default 64. */
  maxInFlight?: number;
  /** Requests waiting for a slot; default 1024. 0 makes `start` reject at once when busy. */
  maxQueued?: number;
  /** Default inactivity limit per request; default 60 000 ms; Infinity for none. */
  timeoutMs?: number;
  /** Default cap on a whole request; default none. */
  totalTimeoutMs?: number;
  /** How to tell the server a request was given up; default MCP; false sends nothing. */
  cancelNotification?: CancelEncoder | false;
  /**
   * Called once per request as it settles, before its promise does, with the `context` given to
   * `start` and whether it failed: for accounting that must not cost a promise of its own.
   */
  onSettled?: (context: unknown, failed: boolean) => void;
}

export interface StartOptions {
  timeoutMs?: number;
  totalTimeoutMs?: number;
  signal?: AbortSignal;
  /**
   * Progress token for this request. If `params._meta.progressToken` is absent it is added (params
   * are copied, not mutated); a token already in params is picked up without this option.
   */
  progressToken?: ProgressToken;
  /** Called with the params of each matching `notifications/progress`, inside `handle` (which a throw escapes). */
  onProgress?: (params: Record<string, unknown>) => void;
  /** Handed to `onSettled` when this request settles. */
  context?: unknown;
}

export interface StartedRequest<T = unknown> {
  id: number;
  /** The encoded request (JSON text); the tracker writes it through `write` once it has a slot. */
  text: string;
  promise: Promise<T>;
}

/** What `handle` did with a message. */
export type HandleOutcome = 'settled' | 'progress' | 'unmatched' | 'ignored';

export interface RequestTrackerStats {
  inFlight: number;
  /** Requests and one-way messages waiting to be written. */
  queued: number;
  completed: number;
  /** Error responses, failAll/close, queue overflow, write failures. */
  failed: number;
  timedOut: number;
  aborted: number;
  /** Responses and progress notifications for requests the tracker does not (or no longer) have. */
  unmatched: number;
  /** Progress notifications matched to a request. */
  progress: number;
  /** Timers currently armed (the shared one: 0 or 1); 0 whenever nothing is pending. */
  timers: number;
}

interface Entry {
  id: number;
  method: string;
  text: string;
  promise: Promise<unknown>;
  state: 'queued' | 'in-flight' | 'done';
  resolve: (value: unknown) => void;
  reject: (reason: unknown) => void;
  timeoutMs: number | undefined;
  totalTimeoutMs: number | undefined;
  /** When the inactivity limit runs out (performance.now() ms); Infinity: none. */
  deadline: number;
  /** When the total limit runs out; Infinity: none. */
  totalDeadline: number;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
  progressToken: ProgressToken | undefined;
  onProgress: ((params: Record<string, unknown>) => void) | undefined;
  context: unknown;
}

/** A queued notification: written in its turn, takes no in-flight slot, settles nothing. */
interface OneWay {
  readonly oneWay: true;
  readonly text: string;
}

const isOneWay = (item: Entry | OneWay): item is OneWay => (item as OneWay).oneWay === true;

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

export class RequestTracker {
  readonly maxInFlight: number;
  readonly maxQueued: number;
  readonly #write: (text: string) => void;
  readonly #timeoutMs: number | undefined;
  readonly #totalTimeoutMs: number | undefined;
  readonly #cancel: CancelEncoder | false;
  readonly #onSettled: ((context: unknown, failed: boolean) => void) | undefined;

  #nextId = 1;
  readonly #inFlight = new Map<number, Entry>();
  /** A Set keeps insertion (FIFO) order and removes an aborted waiter in O(1). */
  readonly #queue = new Set<Entry | OneWay>();
  readonly #byToken = new Map<ProgressToken, Entry>();
  #pumping = false;
  #failing = false;
  #held = false;
  #closedWith: { error: unknown } | undefined;
  /**
   * One timer for every limit of every pending request: it fires at (or before) the earliest
   * deadline, times out what is due and re-arms for the next. A request costs a clock read and a
   * comparison, not a timer of its own (which, at tens of thousands of requests a second, was a
   * fifth of the main thread's time, much of it garbage).
   */
  #sweepTimer: NodeJS.Timeout | undefined;
  #sweepAt = Number.POSITIVE_INFINITY;
  #counts = { completed: 0, failed: 0, timedOut: 0, aborted: 0, unmatched: 0, progress: 0 };

  constructor(options: RequestTrackerOptions) {
    if (typeof options?.write !== 'function') {
      throw new InvalidArgumentError('write', 'expected a function that sends one message');
    }
    this.#write = options.write;
    this.maxInFlight = checkInteger(
      options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT,
      'maxInFlight',
      1,
      2 ** 30,
    );
    this.maxQueued = checkInteger(options.maxQueued ?? DEFAULT_MAX_QUEUED, 'maxQueued', 0, 2 ** 30);
    this.#timeoutMs = checkTimeout(options.timeoutMs ?? DEFAULT_TIMEOUT_MS, 'timeoutMs');
    this.#totalTimeoutMs = checkTimeout(options.totalTimeoutMs, 'totalTimeoutMs');
    const cancel = options.cancelNotification ?? mcpCancelNotification;
    if (cancel !== false && typeof cancel !== 'function') {
      throw new InvalidArgumentError('cancelNotification', 'expected a function or false');
    }
    this.#cancel = cancel;
    if (options.onSettled !== undefined && typeof options.onSettled !== 'function')
      throw new InvalidArgumentError('onSettled', 'expected a function');
    this.#onSettled = options.onSettled;
  }

  get stats(): RequestTrackerStats {
    return {
      inFlight: this.#inFlight.size,
      queued: this.#queue.size,
      ...this.#counts,
      timers: this.#sweepTimer === undefined ? 0 : 1,
    };
  }

  /**
   * Starts a request. Bad arguments throw InvalidArgumentError; every other failure (queue full,
   * closed, already aborted, timeout, error response) rejects `promise`.
   */
  start<T = unknown>(
    method: string,
    params?: JsonRpcParams,
    options: StartOptions = {},
  ): StartedRequest<T> {
    const entry = this.#start(method, params, options);
    return { id: entry.id, text: entry.text, promise: entry.promise as Promise<T> };
  }

  /** `start(…).promise`, without the StartedRequest around it (the hot path). */
  request<T = unknown>(
    method: string,
    params?: JsonRpcParams,
    options: StartOptions = {},
  ): Promise<T> {
    return this.#start(method, params, options).promise as Promise<T>;
  }

  #start(method: string, params: JsonRpcParams, options: StartOptions): Entry {
    const timeoutMs =
      options.timeoutMs === undefined
        ? this.#timeoutMs
        : checkTimeout(options.timeoutMs, 'timeoutMs');
    const totalTimeoutMs =
      options.totalTimeoutMs === undefined
        ? this.#totalTimeoutMs
        : checkTimeout(options.totalTimeoutMs, 'totalTimeoutMs');
    const { signal, onProgress } = options;
    if (signal !== undefined && !(signal instanceof AbortSignal)) {
      throw new InvalidArgumentError('signal', 'expected an AbortSignal');
    }
    if (onProgress !== undefined && typeof onProgress !== 'function') {
      throw new InvalidArgumentError('onProgress', 'expected a function');
    }
    let sent = params;
    let token: ProgressToken | undefined;
    if (options.progressToken !== undefined || hasMeta(params))
      ({ params: sent, token } = withProgressToken(params, options.progressToken));
    if (token !== undefined && this.#byToken.has(token)) {
      throw new InvalidArgumentError(
        'progressToken',
        `${JSON.stringify(token)} is already used by a pending request`,
      );
    }
    const id = this.#nextId++;
    const text = requestJson(id, method, sent);

    let resolve!: (value: unknown) => void;
    let reject!: (reason: unknown) => void;
    const promise = new Promise<unknown>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const entry: Entry = {
      id,
      method,
      text,
      promise,
      state: 'queued',
      resolve,
      reject,
      timeoutMs,
      totalTimeoutMs: undefined,
      deadline: Number.POSITIVE_INFINITY,
      totalDeadline: Number.POSITIVE_INFINITY,
      signal,
      onAbort: undefined,
      progressToken: token,
      onProgress,
      context: options.context,
    };

    if (this.#closedWith) {
      this.#counts.failed++;
      this.#refuse(entry, this.#closedWith.error);
    } else if (signal?.aborted) {
      this.#counts.aborted++;
      this.#refuse(entry, signal.reason);
    } else if (this.#inFlight.size < this.maxInFlight && this.#queue.size === 0 && !this.#held) {
      this.#arm(entry, totalTimeoutMs);
      this.#dispatch(entry, false);
    } else if (this.#queue.size < this.maxQueued) {
      this.#queue.add(entry);
      this.#arm(entry, totalTimeoutMs);
    } else {
      this.#counts.failed++;
      this.#refuse(entry, new QueueFullError('the request queue', this.maxQueued));
    }
    return entry;
  }

  /**
   * A one-way message (a notification's JSON text): written now when nothing waits to be written,
   * else queued in its turn. Throws QueueFullError when the queue is full, the close error once
   * closed, and whatever `write` throws.
   */
  send(text: string): void {
    if (this.#closedWith) throw this.#closedWith.error;
    if (this.#queue.size === 0 && !this.#held) {
      this.#write(text);
    } else if (this.#queue.size < this.maxQueued) {
      this.#queue.add({ oneWay: true, text });
    } else {
      throw new QueueFullError('the request queue', this.maxQueued);
    }
  }

  /** Settle a request that was never queued or sent. */
  #refuse(entry: Entry, error: unknown): void {
    entry.state = 'done';
    this.#onSettled?.(entry.context, true);
    entry.reject(error);
  }

  /** Routes one message read from the server. Never throws for unexpected input. */
  handle(message: Classified): HandleOutcome {
    switch (message.kind) {
      case 'response':
      case 'error-response': {
        const entry = typeof message.id === 'number' ? this.#inFlight.get(message.id) : undefined;
        if (entry === undefined) {
          this.#counts.unmatched++;
          return 'unmatched';
        }
        if (message.kind === 'response') {
          this.#counts.completed++;
          this.#settle(entry, { ok: true, value: message.result });
        } else {
          this.#counts.failed++;
          this.#settle(entry, { ok: false, error: new JsonRpcError(message.error, entry.method) });
        }
        return 'settled';
      }
      case 'notification': {
        if (message.method !== PROGRESS_METHOD) return 'ignored';
        const params = message.params;
        const token =
          params !== undefined && !Array.isArray(params) ? params.progressToken : undefined;
        const entry =
          typeof token === 'string' || typeof token === 'number'
            ? this.#byToken.get(token)
            : undefined;
        // A queued request was never sent, so the server cannot be reporting on it.
        if (entry === undefined || entry.state !== 'in-flight') {
          this.#counts.unmatched++;
          return 'unmatched';
        }
        this.#counts.progress++;
        this.#touch(entry);
        entry.onProgress?.(params as Record<string, unknown>);
        return 'progress';
      }
      default:
        return 'ignored';
    }
  }

  /**
   * Stop writing requests (the server is not reading what it was sent): new ones queue, bounded by
   * maxQueued, and their inactivity limits run as usual. `resume()` writes the queue in order.
   */
  hold(): void {
    this.#held = true;
  }

  resume(): void {
    if (!this.#held) return;
    this.#held = false;
    this.#pump();
  }

  get held(): boolean {
    return this.#held;
  }

  /**
   * Rejects every in-flight and queued request with `error` (the connection died: no cancel
   * notifications, and no queued request is written). Returns how many were rejected. The tracker
   * stays usable, e.g. for a restarted process.
   */
  failAll(error: unknown = new ConnectionLostError(null, null)): number {
    const victims = [...this.#inFlight.values()];
    for (const item of this.#queue) if (!isOneWay(item)) victims.push(item);
    this.#queue.clear();
    this.#failing = true;
    try {
      for (const entry of victims) {
        this.#counts.failed++;
        this.#settle(entry, { ok: false, error });
      }
    } finally {
      this.#failing = false;
    }
    return victims.length;
  }

  /** `failAll(error)`, and every later `start` rejects with `error` too. */
  close(error: unknown = new ConnectionLostError(null, null)): number {
    this.#closedWith ??= { error };
    return this.failAll(error);
  }

  #arm(entry: Entry, totalTimeoutMs: number | undefined): void {
    // Hot: a clock read and a comparison; the shared timer is re-armed only for an earlier limit.
    if (entry.timeoutMs !== undefined || totalTimeoutMs !== undefined) {
      const now = performance.now();
      if (entry.timeoutMs !== undefined) {
        entry.deadline = now + entry.timeoutMs;
        if (entry.deadline < this.#sweepAt) this.#schedule(entry.deadline, now);
      }
      if (totalTimeoutMs !== undefined) {
        entry.totalTimeoutMs = totalTimeoutMs;
        entry.totalDeadline = now + totalTimeoutMs;
        if (entry.totalDeadline < this.#sweepAt) this.#schedule(entry.totalDeadline, now);
      }
    }
    if (entry.progressToken !== undefined) this.#byToken.set(entry.progressToken, entry);
    if (entry.signal !== undefined) {
      const signal = entry.signal;
      entry.onAbort = () =>
        this.#giveUp(entry, signal.reason, 'aborted', describeReason(signal.reason));
      signal.addEventListener('abort', entry.onAbort, { once: true });
    }
  }

  /** Restart `entry`'s inactivity limit (it was sent, or showed progress). Later: no re-arm. */
  #touch(entry: Entry): void {
    if (entry.timeoutMs !== undefined) entry.deadline = performance.now() + entry.timeoutMs;
  }

  /** Make the shared timer fire at `at` (earlier than it would now). */
  #schedule(at: number, now: number): void {
    if (this.#sweepTimer !== undefined) clearTimeout(this.#sweepTimer);
    this.#sweepAt = at;
    this.#sweepTimer = setTimeout(this.#sweep, Math.max(0, Math.ceil(at - now)));
  }

  #unschedule(): void {
    if (this.#sweepTimer === undefined) return;
    clearTimeout(this.#sweepTimer);
    this.#sweepTimer = undefined;
    this.#sweepAt = Number.POSITIVE_INFINITY;
  }

  /** The shared timer fired: time out every request past a limit, re-arm for the next one. */
  readonly #sweep = (): void => {
    this.#sweepTimer = undefined;
    this.#sweepAt = Number.POSITIVE_INFINITY;
    const now = performance.now();
    const due: [Entry, 'inactivity' | 'total'][] = [];
    // The earliest limit of what stays pending. A request that the timeouts below let through
    // the queue gets a later limit than the one counted here: at worst the timer fires early.
    let next = Number.POSITIVE_INFINITY;
    const look = (entry: Entry) => {
      if (entry.totalDeadline <= now) due.push([entry, 'total']);
      else if (entry.deadline <= now) due.push([entry, 'inactivity']);
      else next = Math.min(next, entry.deadline, entry.totalDeadline);
    };
    for (const entry of this.#inFlight.values()) look(entry);
    for (const item of this.#queue) if (!isOneWay(item)) look(item);
    for (const [entry, which] of due)
      this.#timeout(
        entry,
        which === 'total' ? (entry.totalTimeoutMs as number) : (entry.timeoutMs as number),
        which,
      );
    if (next < this.#sweepAt && this.#inFlight.size + this.#queue.size > 0)
      this.#schedule(next, performance.now());
  };

  #timeout(entry: Entry, ms: number, which: 'inactivity' | 'total'): void {
    const what =
      which === 'inactivity'
        ? `'${entry.method}' request ${entry.id} (no response or progress)`
        : `'${entry.method}' request ${entry.id} (total time limit)`;
    this.#giveUp(entry, new TimeoutError(what, ms), 'timedOut', `timed out after ${ms} ms`);
  }

  /** Timeout or abort: settle, and tell the server if it ever saw the request. */
  #giveUp(entry: Entry, error: unknown, counter: 'timedOut' | 'aborted', reason: string): void {
    if (entry.state === 'done') return;
    const wasSent = entry.state === 'in-flight';
    this.#counts[counter]++;
    // The cancel line goes out before the settle frees the slot, so the server hears about the
    // cancellation before the next queued request.
    if (wasSent && this.#cancel !== false) {
      const cancel = this.#cancel({ id: entry.id, method: entry.method, reason });
      if (cancel !== null) {
        try {
          this.#write(cancel);
        } catch {
          // The connection is failing; its owner will learn that from the process, not from here.
        }
      }
    }
    this.#settle(entry, { ok: false, error });
  }

  #dispatch(entry: Entry, wasQueued = true): void {
    if (wasQueued) this.#queue.delete(entry);
    this.#inFlight.set(entry.id, entry);
    entry.state = 'in-flight';
    // Time spent queued is not the server's silence: restart the inactivity limit on sending.
    if (wasQueued) this.#touch(entry);
    try {
      this.#write(entry.text);
    } catch (error) {
      this.#counts.failed++;
      this.#settle(entry, { ok: false, error });
    }
  }

  #settle(entry: Entry, outcome: Outcome): void {
    if (entry.state === 'done') return;
    entry.state = 'done';
    this.#inFlight.delete(entry.id);
    this.#queue.delete(entry);
    // The shared timer stays for the others; with nothing pending it goes.
    if (this.#inFlight.size === 0 && this.#queue.size === 0) this.#unschedule();
    if (entry.onAbort !== undefined) {
      entry.signal?.removeEventListener('abort', entry.onAbort);
      entry.onAbort = undefined;
    }
    if (entry.progressToken !== undefined && this.#byToken.get(entry.progressToken) === entry) {
      this.#byToken.delete(entry.progressToken);
    }
    this.#onSettled?.(entry.context, !outcome.ok);
    if (outcome.ok) entry.resolve(outcome.value);
    else entry.reject(outcome.error);
    // A slot freed, or a queued request left and what waited behind it may go now.
    this.#pump();
  }

  /** Fills free slots from the queue, in order. Re-entrant calls (write → handle) fold into one. */
  #pump(): void {
    if (this.#pumping || this.#failing || this.#held) return;
    this.#pumping = true;
    try {
      while (this.#queue.size > 0) {
        const next = this.#queue.values().next().value as Entry | OneWay;
        if (isOneWay(next)) {
          this.#queue.delete(next);
          try {
            this.#write(next.text);
          } catch {
            // The connection is failing; its owner learns that from the process, not from here.
          }
        } else if (this.#inFlight.size < this.maxInFlight) {
          this.#dispatch(next);
        } else {
          break;
        }
      }
    } finally {
      this.#pumping = false;
    }
  }
}

function describeReason(reason: unknown): string {
  if (reason instanceof Error) return reason.message;
  return typeof reason === 'string' ? reason : 'aborted by the client';
}
