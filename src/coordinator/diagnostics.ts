/**
 * Named `node:diagnostics_channel` channels, so APM tools (and `atomvisor run`'s metrics) can
 * observe a coordinator without atomvisor depending on them. Publishing costs one
 * `hasSubscribers` check when nobody listens: callers build a message only after that check.
 *
 * - `atomvisor:request`: one message per finished request (`RequestMessage`).
 * - `atomvisor:lease`: acquired (with the wait), acquire failed, released (with the hold time).
 * - `atomvisor:probe`: every applied probe result and every `unhealthy` verdict.
 * - `atomvisor:process`: process lifecycle: spawn, ready, start-failed, exit, restart, failed,
 *   retire, memory, evict, io-worker-exit.
 * The catch-all `atomvisor:coordinator` channel (every coordinator event) stays as it was.
 *
 * Every message carries `coordinator`, the publishing coordinator's `id` (process-unique), so a
 * subscriber can tell apart two coordinators in one process that use the same keys.
 */
import { channel } from 'node:diagnostics_channel';
import type { CoordinatorEventName, CoordinatorEvents } from './events.ts';

export const CHANNEL_NAMES = {
  coordinator: 'atomvisor:coordinator',
  request: 'atomvisor:request',
  lease: 'atomvisor:lease',
  probe: 'atomvisor:probe',
  process: 'atomvisor:process',
} as const;

/** A finished request (plain `request()` or through a lease). */
export interface RequestMessage {
  /** The publishing coordinator's `id`. */
  coordinator: number;
  key: string;
  slot: number;
  generation: number;
  method: string;
  /** Waiting for a usable replica (0 for lease requests). */
  waitMs: number;
  /** From sending to the answer (or failure). */
  durationMs: number;
  ok: boolean;
  /** The error's code (`ERR_ATOMVISOR_TIMEOUT`, ...) or name when it failed. */
  error?: string;
  /** True when sent through an exclusive lease. */
  leased: boolean;
}

export type LeaseMessage = { coordinator: number } & (
  | { action: 'acquire'; key: string; slot: number; leaseId: number; waitMs: number }
  | { action: 'acquire-failed'; key: string; waitMs: number; error: string }
  | { action: 'release'; key: string; slot: number; leaseId: number; holdMs: number }
);

/** `{ event, coordinator, ...payload }` of a coordinator event, as on `atomvisor:coordinator`. */
export type EventMessage<E extends CoordinatorEventName = CoordinatorEventName> = {
  [K in E]: { event: K; coordinator: number } & CoordinatorEvents[K];
}[E];

export const requestChannel = channel(CHANNEL_NAMES.request);
export const leaseChannel = channel(CHANNEL_NAMES.lease);
export const probeChannel = channel(CHANNEL_NAMES.probe);
export const processChannel = channel(CHANNEL_NAMES.process);

/** Which named channel (besides `atomvisor:coordinator`) carries each coordinator event. */
export const EVENT_CHANNEL: Partial<Record<CoordinatorEventName, typeof probeChannel>> = {
  probe: probeChannel,
  unhealthy: probeChannel,
  spawn: processChannel,
  ready: processChannel,
  'start-failed': processChannel,
  exit: processChannel,
  restart: processChannel,
  failed: processChannel,
  retire: processChannel,
  memory: processChannel,
  evict: processChannel,
  'io-worker-exit': processChannel,
};

/** An error's stable code for a message: `code` when it has one, else its name. */
export function errorCode(error: unknown): string {
  if (error !== null && typeof error === 'object') {
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    const name = (error as { name?: unknown }).name;
    if (typeof name === 'string') return name;
  }
  return typeof error;
}
