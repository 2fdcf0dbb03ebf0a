/**
 * The connection state machine: one small table of statuses and legal transitions, explained
 * once and enforced in one place (in the spirit of HikariCP's ConcurrentBag entry states).
 *
 *   empty ──▶ starting ──▶ ready ⇄ leased
 *                │           │       │
 *                │           ▼       ▼
 *                │        draining ──┤
 *                ▼           ▼       ▼
 *             exited ◀── closing ◀───┘      (any live status ──▶ exited when the process dies)
 *             │  ▲ │
 *             │  │ └──▶ failed (restart breaker tripped) ──▶ empty | starting
 *             ▼  └── (restart) starting
 *           empty
 *
 * - starting: spawned, the start handshake (e.g. MCP initialize) not yet done; not leasable.
 * - ready: serving; leasable unless the UNREADY flag is set (readiness probe failing).
 * - leased: one caller holds the exclusive lease (the slot's LEASE word names its id).
 * - draining: takes no new work; finishes what is in flight, then closes.
 * - closing: the process is being stopped (end stdin → SIGTERM → SIGKILL), outside any lock.
 * - exited: the process is gone; the slot waits for a restart (backoff) or for removal.
 * - failed: the restart breaker tripped; no more automatic restarts.
 *
 * The generation counts (re)starts of the slot: it bumps on every move into `starting`, so any
 * CAS prepared against an older process (a late probe result, a stale release) fails: no ABA.
 */
import { IllegalTransitionError } from '../errors.ts';
import { Table as L } from '../shm/layout.ts';
import { defineStateWord } from '../shm/state-word.ts';

export const Status = {
  empty: 0,
  starting: 1,
  ready: 2,
  leased: 3,
  draining: 4,
  closing: 5,
  exited: 6,
  failed: 7,
} as const;

export type StatusName = keyof typeof Status;
export type StatusCode = (typeof Status)[StatusName];

export const STATUS_NAMES: readonly StatusName[] = Object.keys(Status) as StatusName[];

/** Flags carried in the state word beside the status. */
export const Flag = {
  /** Readiness is failing: not leasable, not restarted. */
  unready: 1 << 0,
  /** Retire when the current lease is released (max lifetime reached while leased). */
  retireOnRelease: 1 << 1,
  /** A leak report was already emitted for the current lease. */
  leakReported: 1 << 2,
} as const;

export const StateWord = defineStateWord({
  status: L.STATUS_BITS,
  generation: L.GENERATION_BITS,
  flags: L.FLAG_BITS,
});

export const MAX_GENERATION = StateWord.fields.generation.max;

/** to ← from: the only legal moves. A move into `starting` is the one that bumps the generation. */
const LEGAL: Readonly<Record<StatusName, readonly StatusName[]>> = {
  empty: ['starting'],
  starting: ['ready', 'closing', 'exited'],
  ready: ['leased', 'draining', 'closing', 'exited'],
  leased: ['ready', 'draining', 'closing', 'exited'],
  draining: ['closing', 'exited'],
  closing: ['exited'],
  exited: ['starting', 'empty', 'failed'],
  failed: ['starting', 'empty'],
};

const legal = new Set<number>();
for (const from of STATUS_NAMES)
  for (const to of LEGAL[from]) legal.add(Status[from] * 16 + Status[to]);

export function isLegalTransition(from: StatusCode, to: StatusCode): boolean {
  return legal.has(from * 16 + to);
}

export function statusName(code: number): StatusName {
  return STATUS_NAMES[code] ?? 'empty';
}

/** Decoded state word. */
export interface SlotState {
  status: StatusName;
  generation: number;
  flags: number;
}

export function decodeState(word: number): SlotState {
  return {
    status: statusName(StateWord.get(word, 'status')),
    generation: StateWord.get(word, 'generation'),
    flags: StateWord.get(word, 'flags'),
  };
}

/** The one place that refuses a move the state machine does not allow. */
export const IllegalTransitionGuard = {
  check(from: StatusName, to: StatusName): void {
    if (!isLegalTransition(Status[from], Status[to])) throw new IllegalTransitionError(from, to);
  },
};
