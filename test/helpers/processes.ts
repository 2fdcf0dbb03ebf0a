/**
 * Process facts for tests: fixture paths, a zombie-aware liveness check, and a polling wait that
 * fails loudly at a generous deadline (no sleep-and-hope).
 */
import { fileURLToPath } from 'node:url';
import { liveMembers, processAlive, signalGroup } from '../../src/io/process-group.ts';

export const fixture = (name: string): string =>
  fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));

export const ECHO = fixture('echo-server.mjs');
export const STUBBORN = fixture('stubborn-server.mjs');

/** An echo-server spec with the MCP-style handshake. */
export function echoSpec(extra: Record<string, unknown> = {}) {
  return {
    command: process.execPath,
    args: [ECHO],
    initialize: {
      method: 'initialize',
      params: {},
      notification: { method: 'notifications/initialized' },
    },
    ...extra,
  };
}

/**
 * Whether `pid` is a running process. A zombie (exited, not yet reaped — orphans here are reaped
 * late by PID 1) counts as dead, though `kill(pid, 0)` still succeeds on it.
 */
export const isAlive = processAlive;

/** Whether any live (non-zombie) process is in process group `pgid`. */
export function groupAlive(pgid: number): boolean {
  return signalGroup(pgid, 0 as unknown as NodeJS.Signals) && liveMembers(pgid).length > 0;
}

/** Poll `condition` every 10 ms until it holds; throw after `timeoutMs` saying what was awaited. */
export async function waitUntil(
  condition: () => boolean,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
