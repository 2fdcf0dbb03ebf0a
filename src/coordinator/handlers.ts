/**
 * The application's side of a two-way connection: handlers for what a server sends on its own —
 * requests it asks the client (MCP sampling, LSP workspace/configuration, ACP
 * session/request_permission) and notifications (ACP session/update, LSP publishDiagnostics, MCP
 * notifications/message).
 *
 * Handlers live at three levels, most specific first: a lease's (while it is held), a key's
 * (`coordinator.onRequest/onNotification`, which may be added before `register`), and the spec's
 * (`spec.onRequest/onNotification`). At each level an exact method comes before `'*'`.
 * - A server request is answered by the first handler found that way; among several for the same
 *   method at one level, the one added last (so a disposer restores the one before it).
 * - A notification goes to every handler that matches, lease first, in the order they were added.
 *
 * A Handlers object is plain data owned by one thread: no locks, nothing shared.
 */
import { InvalidArgumentError } from '../errors.ts';
import { describe } from '../shm/validate.ts';

/** What a handler learns about where a server request or notification came from. */
export interface PeerContext<L = unknown> {
  /** The JSON-RPC method. */
  method: string;
  key: string;
  /** Which replica of the key (0-based). */
  replica: number;
  pid: number;
  generation: number;
  /** The Lease object if this replica is leased right now, else undefined. */
  lease: L | undefined;
  /** Aborts when the process exits, or when the server cancels the request it made. */
  signal: AbortSignal;
}

/** Answers a server request: its result, or a promise of it. Throw `{ code, message, data? }` for that JSON-RPC error. */
export type RequestHandler<L = unknown> = (params: unknown, ctx: PeerContext<L>) => unknown;
/** Hears a notification. Its return value is ignored; a throw or rejection is reported, never raised. */
export type NotificationHandler<L = unknown> = (params: unknown, ctx: PeerContext<L>) => unknown;

export type HandlerKind = 'request' | 'notification';

type Handler = RequestHandler | NotificationHandler;

export class Handlers {
  readonly #byKind: Record<HandlerKind, Map<string, Handler[]>> = {
    request: new Map(),
    notification: new Map(),
  };

  get size(): number {
    let n = 0;
    for (const kind of ['request', 'notification'] as const)
      for (const list of this.#byKind[kind].values()) n += list.length;
    return n;
  }

  /** Add `handler` for `method` ('*': any); returns the function that removes it again. */
  add(kind: HandlerKind, method: unknown, handler: unknown, field = 'handler'): () => void {
    const m = checkMethod(method);
    if (typeof handler !== 'function')
      throw new InvalidArgumentError(field, `expected a function, got ${describe(handler)}`);
    const map = this.#byKind[kind];
    let list = map.get(m);
    if (list === undefined) {
      list = [];
      map.set(m, list);
    }
    const h = handler as Handler;
    list.push(h);
    let removed = false;
    return () => {
      if (removed) return;
      removed = true;
      const current = map.get(m);
      const at = current?.lastIndexOf(h) ?? -1;
      if (current === undefined || at < 0) return;
      current.splice(at, 1);
      if (current.length === 0) map.delete(m);
    };
  }

  /** The handler that answers a request for `method`: exact first, then '*'; the latest added. */
  answerer(method: string): RequestHandler | undefined {
    const map = this.#byKind.request;
    return (map.get(method)?.at(-1) ?? map.get('*')?.at(-1)) as RequestHandler | undefined;
  }

  /** Every notification handler for `method`: the exact ones, then the '*' ones, in added order. */
  listeners(method: string): NotificationHandler[] {
    const map = this.#byKind.notification;
    const exact = map.get(method);
    const any = map.get('*');
    if (exact === undefined) return any === undefined ? [] : [...any];
    return any === undefined ? [...exact] : [...exact, ...any];
  }

  /** Handlers given as an object (`spec.onRequest`): `{ [method]: handler }`. */
  static fromRecord(
    requests: Record<string, RequestHandler> | undefined,
    notifications: Record<string, NotificationHandler> | undefined,
  ): Handlers {
    const h = new Handlers();
    for (const [method, handler] of Object.entries(requests ?? {}))
      h.add('request', method, handler, `spec.onRequest.${method}`);
    for (const [method, handler] of Object.entries(notifications ?? {}))
      h.add('notification', method, handler, `spec.onNotification.${method}`);
    return h;
  }
}

function checkMethod(method: unknown): string {
  if (typeof method !== 'string' || method.length === 0)
    throw new InvalidArgumentError(
      'method',
      `expected a non-empty string or '*', got ${describe(method)}`,
    );
  return method;
}
