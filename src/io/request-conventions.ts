/**
 * The conventions a request follows on the wire beyond JSON-RPC itself, as RequestTracker speaks
 * them: how a request the server has seen is cancelled (MCP `notifications/cancelled`, LSP
 * `$/cancelRequest`), and MCP progress — the token a request carries in `params._meta`, which
 * `notifications/progress` names.
 */
import { InvalidArgumentError } from '../errors.ts';
import { type JsonRpcParams, notificationJson } from './jsonrpc.ts';

export type ProgressToken = string | number;

export const PROGRESS_METHOD = 'notifications/progress';
export const CANCELLED_METHOD = 'notifications/cancelled';
/** LSP's cancellation notification. */
export const LSP_CANCEL_METHOD = '$/cancelRequest';

export interface CancelInfo {
  id: number;
  method: string;
  reason: string;
}

/** Builds the message telling the server to stop working on a request; null sends nothing. */
export type CancelEncoder = (request: CancelInfo) => string | null;

/**
 * MCP's `notifications/cancelled { requestId, reason }`. MCP forbids cancelling `initialize`, so
 * none is sent for it.
 */
export const mcpCancelNotification: CancelEncoder = ({ id, method, reason }) =>
  method === 'initialize' ? null : notificationJson(CANCELLED_METHOD, { requestId: id, reason });

/** LSP's `$/cancelRequest { id }` (the base protocol's cancellation; also used by DAP-style peers). */
export const lspCancelNotification: CancelEncoder = ({ id }) =>
  notificationJson(LSP_CANCEL_METHOD, { id });

/** Do params carry `_meta` (where a progress token may be)? Cheap: no allocation. */
export function hasMeta(params: JsonRpcParams): boolean {
  return params !== undefined && !Array.isArray(params) && params._meta !== undefined;
}

export function withProgressToken(
  params: JsonRpcParams,
  explicit: ProgressToken | undefined,
): { params: JsonRpcParams; token: ProgressToken | undefined } {
  if (explicit !== undefined && typeof explicit !== 'string' && typeof explicit !== 'number') {
    throw new InvalidArgumentError('progressToken', 'expected a string or a number');
  }
  if (params === undefined || Array.isArray(params)) {
    if (explicit === undefined) return { params, token: undefined };
    if (params !== undefined) {
      throw new InvalidArgumentError(
        'progressToken',
        'array params cannot carry _meta.progressToken',
      );
    }
    return { params: { _meta: { progressToken: explicit } }, token: explicit };
  }
  const meta = params._meta;
  const present =
    typeof meta === 'object' && meta !== null
      ? (meta as Record<string, unknown>).progressToken
      : undefined;
  if (present !== undefined && typeof present !== 'string' && typeof present !== 'number') {
    throw new InvalidArgumentError('params._meta.progressToken', 'expected a string or a number');
  }
  if (explicit === undefined) return { params, token: present };
  if (present !== undefined) {
    if (present !== explicit) {
      throw new InvalidArgumentError(
        'progressToken',
        `params already carry _meta.progressToken ${JSON.stringify(present)}`,
      );
    }
    return { params, token: present };
  }
  const baseMeta = typeof meta === 'object' && meta !== null ? meta : {};
  return {
    params: { ...params, _meta: { ...baseMeta, progressToken: explicit } },
    token: explicit,
  };
}
