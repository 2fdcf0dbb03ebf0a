/**
 * What the shared-state suite and its worker share: the designs, the control words of a round
 * and the data each thread gets and reports (kept apart from the worker, which runs on import).
 */
import type { MessagePort } from 'node:worker_threads';
import type { SharedChannelHandle } from '../../src/shm/channel.ts';
import type { MutexHandle } from '../../src/shm/mutex.ts';
import type { SeqlockHandle } from '../../src/shm/seqlock.ts';

export type Design =
  | 'mutex'
  | 'atomic'
  | 'channel:postMessage'
  | 'channel:comlink'
  | 'channel:SharedChannel';

export const FIELDS = 6;
export const Ctrl = { ROUND: 0, STARTED: 1, MEASURING: 2, STOP: 3, EXIT: 4, WORDS: 8 } as const;
/** One op in this many is timed on its own for the latency percentiles. */
export const LAT_EVERY = 64;
export const LAT_CAP = 65_536;

export interface SharedStateWork {
  role: 'client' | 'owner';
  design: Design;
  /** Client index (0..clients-1). */
  index: number;
  clients: number;
  /** Percent of ops that are updates. */
  writePercent: number;
  ctrl: Int32Array;
  /** [0]: the measuring window's start, timeOrigin-based ms (written by the last starter). */
  times: Float64Array;
  /** mutex: the lock and the plain record fields. */
  mutex?: MutexHandle;
  fields?: Int32Array;
  /** atomic: the CAS state word (index 0) and the seqlocked record. */
  state?: Int32Array;
  seqlock?: SeqlockHandle;
  /** channel designs: the client's port (postMessage, comlink) or the owner's ports. */
  port?: MessagePort;
  ports?: MessagePort[];
  requests?: SharedChannelHandle;
  replies?: SharedChannelHandle[];
}

export interface RoundResult {
  round: number;
  index: number;
  counted: number;
  writes: number;
  latenciesNs: Float64Array;
}
