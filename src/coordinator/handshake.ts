/**
 * A start's handshake, run by the Supervisor once the process is spawned and before its slot
 * moves to ready: `spec.initialize` (a request, then optionally a notification: MCP's initialize /
 * notifications/initialized) or the `spec.onStart(connection)` hook, bounded by
 * options.startTimeoutMs either way. Its result is what `snapshot().replicas[i].handshake` shows.
 * A handshake that fails or times out is a failed start.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { ConnectionLostError, TimeoutError } from '../errors.ts';
import type { Peer } from './peer.ts';
import type { Router } from './routing.ts';
import type { ResolvedSpec, StartingConnection } from './spec.ts';

export interface Starting {
  readonly key: string;
  readonly slot: number;
  readonly generation: number;
  readonly pid: number;
  readonly spec: ResolvedSpec;
  /** options.startTimeoutMs: the bound of the whole handshake. */
  readonly limitMs: number;
}

export async function handshake(router: Router, p: Starting): Promise<unknown> {
  const { slot, generation, limitMs: limit } = p;
  const init = p.spec.initialize;
  if (init !== undefined) {
    const result = await peerOf(router, p).request(init.method, init.params, {
      timeoutMs: limit,
      totalTimeoutMs: limit,
    });
    const note = init.notification;
    if (note !== undefined) router.notify(slot, generation, note.method, note.params);
    return result;
  }
  const hook = p.spec.onStart;
  if (hook === undefined) return undefined;
  const connection: StartingConnection = {
    key: p.key,
    pid: p.pid,
    request: async (method, params, opts) =>
      peerOf(router, p).request(method, params, {
        timeoutMs: opts?.timeoutMs ?? limit,
        totalTimeoutMs: limit,
      }),
    notify: async (method, params) => router.notify(slot, generation, method, params),
  };
  const controller = new AbortController();
  try {
    return await Promise.race([
      Promise.resolve().then(() => hook(connection)),
      sleep(limit, undefined, { signal: controller.signal }).then(() => {
        throw new TimeoutError(`the onStart hook of ${JSON.stringify(p.key)}`, limit);
      }),
    ]);
  } finally {
    controller.abort();
  }
}

/** The open peer of the starting process (ConnectionLostError if it is gone already). */
function peerOf(router: Router, p: Starting): Peer {
  const peer = router.peer(p.slot, p.generation);
  if (peer === undefined) throw new ConnectionLostError(null, null, 'it exited while starting');
  return peer;
}
