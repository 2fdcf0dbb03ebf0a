/**
 * When to restart a connection that exited unexpectedly, and when to give up.
 *
 * - Backoff: exponential with full jitter (AWS's "full jitter": a uniform delay in [0, cap), cap =
 *   min(maxDelay, initialDelay · 2^attempt)), so a fleet that crashed together does not restart in
 *   lockstep. A process that ran resetAfterMs without exiting resets the attempt count.
 * - Breaker: more than maxRestarts restarts within windowMs (Erlang/OTP's restart intensity) and
 *   the connection is marked failed instead of looping.
 *
 * Pure bookkeeping: no timers here, the coordinator schedules what this returns.
 */
import type { ResolvedOptions } from './options.ts';

export type RestartDecision =
  | { action: 'restart'; delayMs: number; attempt: number }
  | { action: 'give-up'; restartsInWindow: number };

export class RestartPolicy {
  readonly #options: ResolvedOptions['restart'];
  readonly #random: () => number;
  #attempt = 0;
  #restarts: number[] = [];

  constructor(options: ResolvedOptions['restart'], random: () => number = Math.random) {
    this.#options = options;
    this.#random = random;
  }

  /** The process started at `startedAt` exited at `now` (ms, any common clock). */
  onExit(startedAt: number, now: number): RestartDecision {
    const o = this.#options;
    if (now - startedAt >= o.resetAfterMs) this.#attempt = 0;
    this.#restarts = this.#restarts.filter((t) => now - t < o.windowMs);
    if (this.#restarts.length >= o.maxRestarts)
      return { action: 'give-up', restartsInWindow: this.#restarts.length };
    this.#restarts.push(now);
    const cap = Math.min(o.maxDelayMs, o.initialDelayMs * 2 ** this.#attempt);
    const attempt = ++this.#attempt;
    return { action: 'restart', delayMs: Math.floor(this.#random() * cap), attempt };
  }

  /** A failed start counts like an exit right after starting. */
  onFailedStart(now: number): RestartDecision {
    return this.onExit(now, now);
  }

  reset(): void {
    this.#attempt = 0;
    this.#restarts = [];
  }
}
