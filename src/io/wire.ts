/**
 * The control plane between the coordinator (main thread) and its IO workers: comlink over a
 * worker's MessagePort, plus one thing comlink lacks — errors that keep their class and fields.
 *
 * comlink's stock 'throw' handler sends only message, name and stack, so a TimeoutError would
 * arrive as a plain Error without its `code`. `installErrorTransfer()` (called once in every
 * thread that uses the control plane) sends an error's own enumerable fields too, and revives
 * atomvisor errors as instances of their own classes (instanceof and `code` both hold).
 */
import type { MessagePort, Worker } from 'node:worker_threads';
import * as Comlink from 'comlink';
import * as errors from '../errors.ts';

type Handler =
  | ((event: { data: unknown }) => void)
  | { handleEvent(event: { data: unknown }): void };
type NodePort = Pick<MessagePort, 'postMessage' | 'on' | 'off'> & { start?: () => void };

/** comlink's Endpoint over a Node MessagePort / Worker / parentPort. */
export function nodeEndpoint(port: NodePort | Worker): Comlink.Endpoint {
  const p = port as NodePort;
  const listeners = new WeakMap<object, (data: unknown) => void>();
  return {
    postMessage: (message: unknown, transfer?: unknown[]) =>
      (p.postMessage as (m: unknown, t?: unknown) => void)(message, transfer),
    addEventListener: (_type: string, handler: Handler) => {
      const listener = (data: unknown) => {
        const event = { data };
        if (typeof handler === 'function') handler(event);
        else handler.handleEvent(event);
      };
      p.on('message', listener);
      listeners.set(handler, listener);
    },
    removeEventListener: (_type: string, handler: Handler) => {
      const listener = listeners.get(handler);
      if (listener === undefined) return;
      p.off('message', listener);
      listeners.delete(handler);
    },
    ...(p.start ? { start: p.start.bind(p) } : {}),
  } as unknown as Comlink.Endpoint;
}

const CLASSES = new Map<string, { prototype: object }>();
for (const value of Object.values(errors)) {
  if (typeof value === 'function' && value.prototype instanceof errors.AtomvisorError)
    CLASSES.set(value.name, value);
}

interface WireError {
  name: string;
  message: string;
  stack?: string | undefined;
  fields: Record<string, unknown>;
}

/** An error as plain cloneable data: message, name, stack and its own enumerable fields. */
export function toWire(error: unknown): WireError | { thrown: unknown } {
  if (!(error instanceof Error)) return { thrown: error };
  const fields: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(error)) {
    try {
      fields[key] = structuredClone(value);
    } catch {
      fields[key] = String(value);
    }
  }
  return { name: error.name, message: error.message, stack: error.stack, fields };
}

/** The error back, as an instance of its own class when it is one of atomvisor's. */
export function fromWire(wire: WireError | { thrown: unknown }): unknown {
  if ('thrown' in wire) return wire.thrown;
  const cls = CLASSES.get(wire.name);
  const error = (cls ? Object.create(cls.prototype) : new Error(wire.message)) as Error;
  Object.defineProperty(error, 'message', {
    value: wire.message,
    writable: true,
    configurable: true,
  });
  Object.defineProperty(error, 'stack', { value: wire.stack, writable: true, configurable: true });
  if (!cls) error.name = wire.name;
  Object.assign(error, wire.fields);
  return error;
}

let installed = false;

export function installErrorTransfer(): void {
  if (installed) return;
  installed = true;
  const stock = Comlink.transferHandlers.get('throw');
  if (stock === undefined) throw new Error('comlink has no throw handler to replace');
  Comlink.transferHandlers.set('throw', {
    canHandle: stock.canHandle,
    serialize: (thrown: unknown) => [toWire((thrown as { value: unknown }).value), []],
    deserialize: (wire: unknown) => {
      throw fromWire(wire as WireError);
    },
  } as Comlink.TransferHandler<unknown, unknown>);
}

export { Comlink };
