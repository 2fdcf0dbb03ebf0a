// A Seqlock peer that follows orders from the test: read (reporting the snapshot or the error
// code), or write, optionally stalling mid-write. A stalled write enters the odd phase for real
// and then blocks on the first value it copies until the test opens a gate: a writer frozen
// halfway, deterministically, with no timing assumption.
import { parentPort, threadId, workerData } from 'node:worker_threads';
import type { SeqlockHandle } from '../../../src/shm/seqlock.ts';
import { type SeqlockVariant, seqlockVariants } from '../../planted/seqlocks.ts';

export interface PeerCommand {
  op: 'read' | 'write';
  timeoutMs?: number;
  values?: number[];
  firstField?: number;
  /** Stall the write: [0] opens the gate, [1] is set (and notified) once the write has stalled. */
  gate?: Int32Array;
  /** With `gate`: once it opens, keep the record held (busy) this long — a writer that lost its core. */
  holdMs?: number;
  /** With `gate`: stall on this value instead of the first (the ones before it are stored). */
  stallAt?: number;
}

export interface PeerReply {
  ready?: boolean;
  threadId?: number;
  values?: number[];
  written?: boolean;
  code?: string;
  error?: string;
  elapsedMs?: number;
}

const { handle, variant = 'correct' } = workerData as {
  handle: SeqlockHandle;
  variant?: SeqlockVariant;
};
const lock = seqlockVariants[variant](handle);
const port = parentPort!;

/** `values`, except that reading value `at` (inside the write) waits for the gate to open. */
function stalled(values: number[], gate: Int32Array, holdMs = 0, at = 0): ArrayLike<number> {
  let stalledOnce = false;
  return new Proxy(values, {
    get(target, key, receiver) {
      if (key === String(at) && !stalledOnce) {
        stalledOnce = true;
        Atomics.store(gate, 1, 1);
        Atomics.notify(gate, 1);
        while (Atomics.load(gate, 0) === 0) Atomics.wait(gate, 0, 0);
        const until = performance.now() + holdMs;
        while (performance.now() < until) {
          // busy: the record stays held (odd sequence)
        }
      }
      return Reflect.get(target, key, receiver);
    },
  });
}

port.on('message', (command: PeerCommand) => {
  const started = performance.now();
  const options = command.timeoutMs === undefined ? {} : { timeoutMs: command.timeoutMs };
  try {
    if (command.op === 'read') {
      const out = lock.read(new Int32Array(lock.fieldCount), options);
      port.postMessage({ values: Array.from(out), elapsedMs: performance.now() - started });
    } else {
      const values = command.values ?? [];
      const source =
        command.gate === undefined
          ? values
          : stalled(values, command.gate, command.holdMs, command.stallAt);
      lock.write(source, command.firstField ?? 0, options);
      port.postMessage({ written: true, elapsedMs: performance.now() - started });
    }
  } catch (error) {
    const e = error as { code?: string; message: string };
    port.postMessage({ error: e.message, code: e.code, elapsedMs: performance.now() - started });
  }
});
port.postMessage({ ready: true, threadId });
