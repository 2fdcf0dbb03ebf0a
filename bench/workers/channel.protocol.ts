/**
 * What the channel suite and its worker share (kept apart from the worker, which runs on import).
 */
import type { MessagePort } from 'node:worker_threads';
import type { SharedChannelHandle } from '../../src/shm/channel.ts';

export type ChannelDesign =
  | 'postMessage'
  | 'comlink'
  | 'SharedChannel spsc'
  | 'SharedChannel mpsc'
  | 'SharedChannel spsc batched';

/** Messages per trySendMany / tryReceiveMany call in the batched design. */
export const BATCH = 64;
export type ChannelPattern = 'round-trip' | 'one-way';

export interface ChannelWork {
  /** driver: measures (pings, produces); peer: answers (pongs, consumes). */
  role: 'driver' | 'peer';
  design: ChannelDesign;
  pattern: ChannelPattern;
  windowMs: number;
  /** Rounds the driver runs (the first is a warm-up the suite discards). */
  rounds: number;
  /** Calls in flight for pipelined comlink one-way. */
  inFlight: number;
  port?: MessagePort;
  /** SharedChannel: [0] driver → peer, [1] peer → driver. */
  channels?: [SharedChannelHandle, SharedChannelHandle];
}

/** One round as the driver measured it: operations completed (round trips or messages) in ms. */
export interface ChannelRound {
  ops: number;
  ms: number;
}
