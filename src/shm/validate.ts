/**
 * Argument checks shared by every primitive, so each bad input gets the same kind of typed error
 * naming the field and the reason (InvalidArgumentError / LayoutMismatchError).
 */
import { InvalidArgumentError, LayoutMismatchError } from '../errors.ts';
import { Header, LAYOUT_VERSION } from './layout.ts';

export function checkSharedInt32View(view: unknown, field: string): Int32Array {
  if (!(view instanceof Int32Array)) {
    const got =
      view === null ? 'null' : typeof view === 'object' ? view.constructor.name : typeof view;
    throw new InvalidArgumentError(field, `expected an Int32Array, got ${got}`);
  }
  if (!(view.buffer instanceof SharedArrayBuffer)) {
    throw new InvalidArgumentError(
      field,
      'the Int32Array must be backed by a SharedArrayBuffer (an ArrayBuffer is not shared between threads)',
    );
  }
  return view;
}

export function checkInteger(value: unknown, field: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new InvalidArgumentError(field, `expected an integer, got ${describe(value)}`);
  }
  if (value < min || value > max) {
    throw new InvalidArgumentError(field, `${value} is out of range [${min}, ${max}]`);
  }
  return value;
}

/** `words` consecutive words starting at `index` must lie inside `view`. */
export function checkWordRange(
  view: Int32Array,
  index: unknown,
  words: number,
  field: string,
): number {
  if (typeof index !== 'number' || !Number.isInteger(index)) {
    throw new InvalidArgumentError(field, `expected an integer word index, got ${describe(index)}`);
  }
  if (index < 0 || index + words > view.length) {
    throw new InvalidArgumentError(
      field,
      `words ${index}..${index + words - 1} do not fit in a view of ${view.length} words`,
    );
  }
  return index;
}

/**
 * The longest delay a Node timer takes: a longer one overflows and fires after 1 ms. It is the
 * largest finite timeout any atomvisor call accepts (Infinity means no limit), so code that arms a
 * timer for a checked timeout never needs to clamp it.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * The one timeout rule, for every call that takes one (shm primitives, the coordinator, the
 * request tracker): undefined → undefined (the caller's default), Infinity → undefined (no limit),
 * otherwise milliseconds in [0, MAX_TIMER_MS]. Cheap enough for per-request paths.
 */
export function checkTimeout(timeoutMs: unknown, field = 'timeoutMs'): number | undefined {
  if (timeoutMs === undefined || timeoutMs === Number.POSITIVE_INFINITY) return undefined;
  if (typeof timeoutMs !== 'number' || !(timeoutMs >= 0)) {
    throw new InvalidArgumentError(
      field,
      `expected a number of milliseconds ≥ 0 (or Infinity: no limit), got ${describe(timeoutMs)}`,
    );
  }
  if (timeoutMs > MAX_TIMER_MS) {
    throw new InvalidArgumentError(
      field,
      `${timeoutMs} ms is longer than a Node timer can wait (${MAX_TIMER_MS}); use Infinity for no limit`,
    );
  }
  return timeoutMs;
}

/**
 * `checkTimeout` for a call with a default: undefined → `fallback`, Infinity → Infinity (no
 * limit: whoever sets a timer for it sets none). Not `checkTimeout(x) ?? fallback`, which would
 * turn an explicit Infinity into the default.
 */
export function timeoutOr(timeoutMs: unknown, field: string, fallback: number): number {
  if (timeoutMs === undefined) return fallback;
  return checkTimeout(timeoutMs, field) ?? Number.POSITIVE_INFINITY;
}

export function checkSignal(signal: unknown, field = 'signal'): AbortSignal | undefined {
  if (signal === undefined) return undefined;
  if (!(signal instanceof AbortSignal)) {
    throw new InvalidArgumentError(field, `expected an AbortSignal, got ${describe(signal)}`);
  }
  return signal;
}

/** The fields every handle carries; the caller checks its own extra fields. */
export function checkHandle(handle: unknown, kind: string): Record<string, unknown> {
  if (handle === null || typeof handle !== 'object') {
    throw new InvalidArgumentError(
      'handle',
      `expected a ${kind} handle object, got ${describe(handle)}`,
    );
  }
  const h = handle as Record<string, unknown>;
  if (h.kind !== kind) {
    throw new LayoutMismatchError('handle.kind', `expected '${kind}', got ${describe(h.kind)}`);
  }
  if (h.layoutVersion !== LAYOUT_VERSION) {
    throw new LayoutMismatchError(
      'handle.layoutVersion',
      `this atomvisor reads layout version ${LAYOUT_VERSION}, the handle was made by version ${describe(h.layoutVersion)}`,
    );
  }
  if (!(h.buffer instanceof SharedArrayBuffer)) {
    throw new InvalidArgumentError(
      'handle.buffer',
      `expected a SharedArrayBuffer, got ${describe(h.buffer)}`,
    );
  }
  return h;
}

/**
 * A view over a buffer that should start with an atomvisor header: `headerWords` long at least,
 * the `magic` in Header.MAGIC (published last by its creator, so read atomically) and LAYOUT_VERSION
 * in Header.VERSION. Throws LayoutMismatchError naming `what` otherwise.
 */
export function checkHeader(
  buffer: SharedArrayBuffer,
  magic: number,
  headerWords: number,
  what: string,
): Int32Array {
  const view = new Int32Array(buffer);
  if (view.length < headerWords) {
    throw new LayoutMismatchError(
      'handle.buffer',
      `${buffer.byteLength} bytes is too small for ${what} header`,
    );
  }
  if (Atomics.load(view, Header.MAGIC) !== magic) {
    throw new LayoutMismatchError('handle.buffer', `the buffer does not hold ${what}`);
  }
  if (view[Header.VERSION] !== LAYOUT_VERSION) {
    throw new LayoutMismatchError(
      'handle.buffer',
      `${what} laid out by layout version ${view[Header.VERSION]}; this atomvisor reads ${LAYOUT_VERSION}`,
    );
  }
  return view;
}

export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'object') return (value as object).constructor?.name ?? 'object';
  return String(value);
}
