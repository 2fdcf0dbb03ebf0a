/**
 * What the coordinator does about the IO workers' reports on processes (after routing.ts took its
 * share: responses, notifications, stderr and protocol problems), and about an IO worker dying:
 * - `exit`: the Supervisor handles it (restart with backoff, or the breaker), then the key's
 *   queue is served or failed;
 * - `memory-sample`: each replica keeps its process group's latest RSS and CPU use;
 * - `memory` (a group over spec.maxMemoryMb): a `memory` event, and the replica is retired the
 *   way max lifetime retires it;
 * - a dead IO worker: its process groups are killed (their pids are in the slot table), its slots'
 *   pending requests fail at once, and each of them goes down the unexpected-exit path.
 * Nothing here waits: stops and restarts are started, not awaited (docs/architecture.md, F2, F5).
 */
import { ConnectionLostError } from '../errors.ts';
import type { IoEvent } from '../io/io-host.ts';
import { signalGroup } from '../io/process-group.ts';
import { Flag } from '../table/state.ts';
import type { IoPool } from './io-pool.ts';
import type { Core } from './registry.ts';
import type { Router } from './routing.ts';
import type { Supervisor } from './supervisor.ts';

export interface IoEventsContext extends Core {
  readonly io: IoPool;
  readonly router: Router;
}

/** What the IO workers report about processes, after routing.ts took its share. */
export function onIoEvent(ctx: IoEventsContext, event: IoEvent): void {
  const { bySlot } = ctx.registry;
  if (event.type === 'memory-sample') {
    for (const sample of event.samples) bySlot.get(sample.slot)?.onMemorySample(sample);
    return;
  }
  const s = bySlot.get(event.slot);
  if (s === undefined) return;
  switch (event.type) {
    case 'exit':
      s.onExit(event);
      ctx.changed(s.key);
      return;
    case 'memory':
      onMemoryExceeded(ctx, s, event);
      return;
  }
}

/**
 * A process group went over spec.maxMemoryMb. Retire it the way max lifetime does: now if it is
 * ready (drain, stop, start afresh), on release if it is leased, as soon as it turns ready if it
 * is still starting (the next housekeeping pass).
 */
function onMemoryExceeded(
  ctx: IoEventsContext,
  s: Supervisor,
  event: Extract<IoEvent, { type: 'memory' }>,
): void {
  if (!s.markMemoryExceeded(event.generation)) return; // about a process already replaced
  const { type: _, ...breach } = event;
  ctx.emit('memory', { key: s.key, ...breach });
  const { slot, generation } = breach;
  if (ctx.closing()) return;
  const state = ctx.table.state(slot);
  if (state.generation !== generation) return;
  if (state.status === 'ready') void s.retire('memory', ctx.options.acquireTimeoutMs);
  else if (state.status === 'leased') ctx.table.setFlags(slot, generation, Flag.retireOnRelease);
}

/** IO worker `index` died: kill the process groups it owned and restart those connections. */
export function onIoWorkerDeath(ctx: IoEventsContext, index: number): void {
  const { table, io, router } = ctx;
  const slots: number[] = [];
  const repaired: number[] = [];
  for (const s of ctx.registry.bySlot.values()) {
    if (io.indexOf(s.slot) !== index) continue;
    // Its thread has stopped ('exit'), and besides this thread it was the only one publishing to
    // its slots' fields: a write still open there is its own, abandoned mid-way. Close it first,
    // or every read of the slot would stall and then fail from now on.
    const abandoned = table.recoverFromDeadWriter(s.slot);
    if (abandoned) repaired.push(s.slot);
    // The IO worker publishes pid and exit = -1 together at spawn, and the exit status when it
    // sees the exit; so exit === -1 means this pid is a process it was still running. Any other
    // pid is an old, dead one that may since have been reused: never signal it. After an
    // abandoned write the two may disagree (the pid written, exit not yet): the pid is then the
    // one it was publishing a moment ago, so it is signalled too.
    const { pid, exit } = table.fields(s.slot);
    if (pid > 0 && (exit === -1 || abandoned)) signalGroup(pid, 'SIGKILL');
    slots.push(s.slot);
    router.close(
      s.slot,
      undefined,
      new ConnectionLostError(null, 'SIGKILL', 'its IO worker exited'),
    );
    s.onExit({
      type: 'exit',
      slot: s.slot,
      generation: s.generation,
      pid,
      code: null,
      signal: 'SIGKILL',
      stderrTail: [],
    });
    ctx.changed(s.key);
  }
  ctx.emit('io-worker-exit', { index, slots, repaired });
}
