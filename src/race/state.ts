/**
 * The state a test's setup() returns crosses to every actor thread by structured clone, so it must
 * be made of things that clone *and stay shared*: SharedArrayBuffers, views over them, handles
 * (plain objects holding them), plain objects, arrays, Maps, Sets and primitives.
 *
 * - `checkShareableState` refuses, with an InvalidArgumentError naming the path, what would break
 *   silently: functions and symbols (DataCloneError), class instances (they arrive as plain
 *   objects without their methods or private fields — post `mutex.handle`, not the Mutex), and
 *   ArrayBuffers or views over them (they arrive as private copies, not shared).
 * - `sharedBufferIds` numbers the SharedArrayBuffers reachable from a state in a fixed traversal
 *   order. Structured clone keeps the object graph, so every thread numbers the same memory the
 *   same way: that is how the explore scheduler knows two threads wait on the same address.
 */
import { InvalidArgumentError } from '../errors.ts';

const PLAIN_PROTOTYPES = new Set<unknown>([Object.prototype, null]);

function className(value: object): string {
  return (value as { constructor?: { name?: string } }).constructor?.name ?? 'object';
}

/** Throws InvalidArgumentError(path, reason) for the first part of `state` that is not shareable. */
export function checkShareableState(state: unknown, root = 'state'): void {
  const seen = new Set<object>();
  const visit = (value: unknown, path: string): void => {
    switch (typeof value) {
      case 'function':
        throw new InvalidArgumentError(
          path,
          'a function cannot be posted to a worker: put data and handles in the state, and the code in the actors',
        );
      case 'symbol':
        throw new InvalidArgumentError(path, 'a symbol cannot be posted to a worker');
      case 'object':
        break;
      default:
        return;
    }
    if (value === null) return;
    if (seen.has(value)) return;
    seen.add(value);
    if (value instanceof SharedArrayBuffer) return;
    if (value instanceof ArrayBuffer) {
      throw new InvalidArgumentError(
        path,
        'an ArrayBuffer is copied into each worker, not shared: use a SharedArrayBuffer',
      );
    }
    if (ArrayBuffer.isView(value)) {
      if (!(value.buffer instanceof SharedArrayBuffer)) {
        throw new InvalidArgumentError(
          path,
          `a ${className(value)} over an ArrayBuffer is copied into each worker, not shared: make it over a SharedArrayBuffer`,
        );
      }
      return;
    }
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) visit(value[i], `${path}[${i}]`);
      return;
    }
    if (value instanceof Map) {
      let i = 0;
      for (const [k, v] of value) {
        visit(k, `${path}.keys[${i}]`);
        visit(v, `${path}.get(${typeof k === 'string' ? JSON.stringify(k) : i})`);
        i++;
      }
      return;
    }
    if (value instanceof Set) {
      let i = 0;
      for (const v of value) visit(v, `${path}.values[${i++}]`);
      return;
    }
    if (value instanceof Date || value instanceof RegExp) return;
    if (value instanceof Error) return;
    if (
      value instanceof WeakMap ||
      value instanceof WeakSet ||
      value instanceof Promise ||
      value instanceof WeakRef
    ) {
      throw new InvalidArgumentError(path, `a ${className(value)} cannot be posted to a worker`);
    }
    const proto = Object.getPrototypeOf(value);
    if (!PLAIN_PROTOTYPES.has(proto)) {
      const name = className(value);
      const hint =
        'handle' in (value as object)
          ? `; put its .handle in the state and rebuild it in the actor (e.g. ${name}.from(state.x))`
          : '; put its SharedArrayBuffer or handle in the state instead';
      throw new InvalidArgumentError(
        path,
        `a ${name} instance arrives in a worker as a plain object, without its methods or private fields${hint}`,
      );
    }
    for (const key of Object.keys(value)) {
      visit((value as Record<string, unknown>)[key], `${path}.${key}`);
    }
    if (Object.getOwnPropertySymbols(value).length > 0) {
      throw new InvalidArgumentError(path, 'symbol-keyed properties are not posted to workers');
    }
  };
  visit(state, root);
}

/** SharedArrayBuffers reachable from `state`, numbered 0, 1, ... in traversal order. */
export function sharedBufferIds(state: unknown): Map<SharedArrayBuffer, number> {
  const ids = new Map<SharedArrayBuffer, number>();
  const seen = new Set<object>();
  const visit = (value: unknown): void => {
    if (value === null || typeof value !== 'object' || seen.has(value)) return;
    seen.add(value);
    if (value instanceof SharedArrayBuffer) {
      if (!ids.has(value)) ids.set(value, ids.size);
      return;
    }
    if (ArrayBuffer.isView(value)) {
      visit(value.buffer);
      return;
    }
    if (value instanceof ArrayBuffer) return;
    if (Array.isArray(value)) {
      for (const item of value) visit(item);
      return;
    }
    if (value instanceof Map) {
      for (const [k, v] of value) {
        visit(k);
        visit(v);
      }
      return;
    }
    if (value instanceof Set) {
      for (const v of value) visit(v);
      return;
    }
    for (const key of Object.keys(value)) visit((value as Record<string, unknown>)[key]);
  };
  visit(state);
  return ids;
}
