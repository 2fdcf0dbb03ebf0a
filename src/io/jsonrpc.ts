/**
 * JSON-RPC 2.0 messages as they travel over a newline-delimited stdio connection.
 *
 * Guarantees: `classify(line)` never throws. Whatever a server writes comes back as exactly one of
 * response, error-response, request, notification, or `invalid` with a reason (malformed JSON,
 * a wrong `jsonrpc` version, a response with both or neither of result and error, a non-string
 * method, an id that is not a string or number, ...). The `*Json` functions give a message's JSON
 * text without framing (the IO worker frames it for its protocol); the `encode*` functions give
 * exactly one line ending in '\n' that never embeds another '\n', so a message can never split.
 * Batches (JSON arrays) are refused as invalid: MCP dropped them, and nothing here sends them.
 */
import { AtomvisorError, InvalidArgumentError } from '../errors.ts';

export type JsonRpcId = string | number;

export interface JsonRpcErrorObject {
  code: number;
  message: string;
  data?: unknown;
}

/** `params` is an object or an array when present, `undefined` when the message had none. */
export type JsonRpcParams = Record<string, unknown> | unknown[] | undefined;

export interface ResponseMessage {
  kind: 'response';
  id: JsonRpcId;
  result: unknown;
}

export interface ErrorResponseMessage {
  kind: 'error-response';
  /** `null` when the server could not tell which request failed (e.g. it could not parse it). */
  id: JsonRpcId | null;
  error: JsonRpcErrorObject;
}

export interface RequestMessage {
  kind: 'request';
  id: JsonRpcId;
  method: string;
  params: JsonRpcParams;
}

export interface NotificationMessage {
  kind: 'notification';
  method: string;
  params: JsonRpcParams;
}

export interface InvalidMessage {
  kind: 'invalid';
  reason: string;
}

export type JsonRpcMessage =
  | ResponseMessage
  | ErrorResponseMessage
  | RequestMessage
  | NotificationMessage;

export type Classified = JsonRpcMessage | InvalidMessage;

/** Standard JSON-RPC 2.0 error codes. */
export const JsonRpcErrorCode = {
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  InternalError: -32603,
} as const;

const has = (object: object, key: string): boolean => Object.hasOwn(object, key);

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isId(value: unknown): value is JsonRpcId {
  return typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value));
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value;
}

function invalid(reason: string): InvalidMessage {
  return { kind: 'invalid', reason };
}

/** Parses and validates one line. Never throws. */
export function classify(line: string): Classified {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    return invalid(`malformed JSON: ${(error as Error).message}`);
  }
  if (Array.isArray(value)) return invalid('batches (JSON arrays) are not supported');
  if (!isPlainObject(value)) return invalid(`expected a JSON object, got ${describe(value)}`);
  if (value.jsonrpc !== '2.0') {
    return invalid(`expected "jsonrpc": "2.0", got ${JSON.stringify(value.jsonrpc) ?? 'nothing'}`);
  }

  if (has(value, 'method')) {
    const { method, params } = value;
    if (typeof method !== 'string')
      return invalid(`method must be a string, got ${describe(method)}`);
    if (has(value, 'result') || has(value, 'error')) {
      return invalid('a message with a method cannot also carry result or error');
    }
    if (params !== undefined && typeof params !== 'object') {
      return invalid(`params must be an object or an array, got ${describe(params)}`);
    }
    if (params === null) return invalid('params must be an object or an array, got null');
    const checkedParams = params as JsonRpcParams;
    if (!has(value, 'id')) return { kind: 'notification', method, params: checkedParams };
    if (!isId(value.id)) {
      return invalid(`request id must be a string or a number, got ${describe(value.id)}`);
    }
    return { kind: 'request', id: value.id, method, params: checkedParams };
  }

  const hasResult = has(value, 'result');
  const hasError = has(value, 'error');
  if (hasResult && hasError) return invalid('a response cannot carry both result and error');
  if (!hasResult && !hasError) {
    return invalid('neither a request (no method) nor a response (no result or error)');
  }
  if (!has(value, 'id')) return invalid('a response must carry an id');
  const { id } = value;
  if (hasResult) {
    if (!isId(id)) return invalid(`response id must be a string or a number, got ${describe(id)}`);
    return { kind: 'response', id, result: value.result };
  }
  if (id !== null && !isId(id)) {
    return invalid(`error response id must be a string, a number or null, got ${describe(id)}`);
  }
  const { error } = value;
  if (!isPlainObject(error)) return invalid(`error must be an object, got ${describe(error)}`);
  if (typeof error.code !== 'number' || !Number.isInteger(error.code)) {
    return invalid(`error.code must be an integer, got ${describe(error.code)}`);
  }
  if (typeof error.message !== 'string') {
    return invalid(`error.message must be a string, got ${describe(error.message)}`);
  }
  const errorObject: JsonRpcErrorObject = { code: error.code, message: error.message };
  if (has(error, 'data')) errorObject.data = error.data;
  return { kind: 'error-response', id, error: errorObject };
}

/** Serializes one message as JSON text (no framing). Throws InvalidArgumentError for unserializable values. */
function toJson(message: Record<string, unknown>, field: string): string {
  let json: string | undefined;
  try {
    json = JSON.stringify(message);
  } catch (error) {
    throw new InvalidArgumentError(
      field,
      `cannot be serialized as JSON: ${(error as Error).message}`,
    );
  }
  if (json === undefined) {
    throw new InvalidArgumentError(field, 'cannot be serialized as JSON');
  }
  return json;
}

/**
 * One message as one line. JSON.stringify escapes control characters inside strings, so the text
 * never holds a raw newline; if it ever did, the message would split into two lines and
 * desynchronize the stream, so refuse it.
 */
function toLine(json: string): string {
  if (json.includes('\n')) {
    throw new AtomvisorError(
      'ERR_ATOMVISOR_INTERNAL',
      'a JSON-RPC message serialized to a raw newline',
    );
  }
  return `${json}\n`;
}

function checkId(id: unknown): JsonRpcId {
  if (!isId(id)) {
    throw new InvalidArgumentError(
      'id',
      `expected a string or a finite number, got ${describe(id)}`,
    );
  }
  return id;
}

function checkMethod(method: unknown): string {
  if (typeof method !== 'string' || method.length === 0) {
    throw new InvalidArgumentError(
      'method',
      `expected a non-empty string, got ${describe(method)}`,
    );
  }
  return method;
}

function withParams(message: Record<string, unknown>, params: unknown): Record<string, unknown> {
  if (params === undefined) return message;
  if (typeof params !== 'object' || params === null) {
    throw new InvalidArgumentError(
      'params',
      `expected an object, an array or undefined, got ${describe(params)}`,
    );
  }
  message.params = params;
  return message;
}

/** A request as JSON text, unframed (the IO worker adds the framing: a newline or a header). */
export function requestJson(id: JsonRpcId, method: string, params?: JsonRpcParams): string {
  // Hot: the envelope is written by hand, so only the params go through JSON.stringify's walk.
  checkId(id);
  checkMethod(method);
  const head = `{"jsonrpc":"2.0","id":${typeof id === 'number' ? id : JSON.stringify(id)},"method":${JSON.stringify(method)}`;
  if (params === undefined) return `${head}}`;
  if (typeof params !== 'object' || params === null) {
    throw new InvalidArgumentError(
      'params',
      `expected an object, an array or undefined, got ${describe(params)}`,
    );
  }
  return `${head},"params":${toJson(params as Record<string, unknown>, 'params')}}`;
}

/** A notification as JSON text, unframed. */
export function notificationJson(method: string, params?: JsonRpcParams): string {
  const message = { jsonrpc: '2.0', method: checkMethod(method) };
  return toJson(withParams(message, params), 'params');
}

/** A successful response as JSON text, unframed; `result` undefined is sent as `null`. */
export function responseJson(id: JsonRpcId, result: unknown): string {
  return toJson({ jsonrpc: '2.0', id: checkId(id), result: result ?? null }, 'result');
}

/** An error response as JSON text, unframed. */
export function errorResponseJson(id: JsonRpcId | null, error: JsonRpcErrorObject): string {
  if (id !== null) checkId(id);
  if (!isPlainObject(error) || !Number.isInteger(error.code) || typeof error.message !== 'string') {
    throw new InvalidArgumentError('error', 'expected { code: integer, message: string, data? }');
  }
  const errorObject: Record<string, unknown> = { code: error.code, message: error.message };
  if (error.data !== undefined) errorObject.data = error.data;
  return toJson({ jsonrpc: '2.0', id, error: errorObject }, 'error');
}

export function encodeRequest(id: JsonRpcId, method: string, params?: JsonRpcParams): string {
  return toLine(requestJson(id, method, params));
}

export function encodeNotification(method: string, params?: JsonRpcParams): string {
  return toLine(notificationJson(method, params));
}

/** A successful response; `result` undefined is sent as `null` (a result member is required). */
export function encodeResponse(id: JsonRpcId, result: unknown): string {
  return toLine(responseJson(id, result));
}

export function encodeErrorResponse(id: JsonRpcId | null, error: JsonRpcErrorObject): string {
  return toLine(errorResponseJson(id, error));
}
