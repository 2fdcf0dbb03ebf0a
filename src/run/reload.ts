/**
 * Config reload for `atomvisor run` (SIGHUP, or a change of the file with --watch): what differs
 * between the running config and the file as it is now, and applying that to the running
 * coordinator — pm2's `reload` of an ecosystem file, restricted to what changed:
 *   - a new server is registered; a removed one drained and stopped (unregister);
 *   - a server whose spec changed is rolled one replica at a time onto the new spec
 *     (coordinator.reload with `spec`: the next replica only once the new process serves);
 *   - a changed replica count is scaled (coordinator.scale: the first replicas are not touched);
 *   - everything else keeps its processes (same pids).
 * Coordinator options (restart, stop, capacity, ...) cannot change under a running coordinator:
 * they are reported as needing a restart of atomvisor. The HTTP endpoint, the log files,
 * `shutdownTimeoutMs` and `detach` are the command's to apply (reloader.ts).
 *
 * Keys are handled side by side: first every removal and scale-down (which free slots), then the
 * rollouts, scale-ups and registrations. What could not be applied (a new server that would not
 * start, a rollout that stopped at a replacement that did not come back) is left out of the
 * returned running config, so the next reload tries it again.
 */
import type { Coordinator } from '../coordinator/coordinator.ts';
import type { ReloadReport } from '../coordinator/reload.ts';
import { AtomvisorError } from '../errors.ts';
import type { RunConfig, ServerEntry } from './config.ts';
import type { Fields } from './log.ts';

export interface ConfigChanges {
  added: string[];
  removed: string[];
  /** Servers whose spec changed (rolled onto it one replica at a time). */
  changed: string[];
  /** Servers whose replica count changed. */
  scaled: { key: string; from: number; to: number }[];
  unchanged: string[];
  /** Top-level coordinator options that differ: applied at atomvisor's next start only. */
  restartNeeded: string[];
}

/** What differs between the running config's servers and coordinator options and `next`'s. */
export function diffConfig(running: RunConfig, next: RunConfig): ConfigChanges {
  const before = new Map(running.servers.map((s) => [s.name, s]));
  const after = new Map(next.servers.map((s) => [s.name, s]));
  const changes: ConfigChanges = {
    added: [],
    removed: [],
    changed: [],
    scaled: [],
    unchanged: [],
    restartNeeded: [],
  };
  for (const name of before.keys()) if (!after.has(name)) changes.removed.push(name);
  for (const [name, server] of after) {
    const old = before.get(name);
    if (old === undefined) {
      changes.added.push(name);
      continue;
    }
    const specChanged = !sameValue(old.spec, server.spec);
    if (specChanged) changes.changed.push(name);
    if (old.replicas !== server.replicas)
      changes.scaled.push({ key: name, from: old.replicas, to: server.replicas });
    if (!specChanged && old.replicas === server.replicas) changes.unchanged.push(name);
  }
  const options = new Set([
    ...Object.keys(running.coordinator),
    ...Object.keys(next.coordinator),
  ]) as Set<keyof RunConfig['coordinator']>;
  for (const key of options)
    if (!sameValue(running.coordinator[key], next.coordinator[key]))
      changes.restartNeeded.push(key);
  return changes;
}

/**
 * Deep equality of config values: plain objects (any key order), arrays, primitives; functions
 * (an `onStart` in a .js config, imported anew on each reload) by their source text.
 */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a === 'function' && typeof b === 'function') return String(a) === String(b);
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
  const kb = Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
  if (ka.length !== kb.length) return false;
  return ka.every((k) =>
    sameValue((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]),
  );
}

export interface ApplyContext {
  coordinator: Coordinator;
  /** How long a stopped replica's in-flight work may finish (the shutdown timeout). */
  drainMs: number;
  report(name: string, fields?: Fields): void;
  /** A server was removed and its processes stopped (its log file can close). */
  removed?(key: string): void;
}

/**
 * Apply the server changes. Resolves (never rejects) with the servers as they now run — `next`'s,
 * except what failed, which keeps its previous entry (or none) — and the failures.
 */
export async function applyServers(
  running: RunConfig,
  next: RunConfig,
  changes: ConfigChanges,
  ctx: ApplyContext,
): Promise<{ servers: ServerEntry[]; failed: { key: string; error: string }[] }> {
  const { coordinator, drainMs, report } = ctx;
  const before = new Map(running.servers.map((s) => [s.name, s]));
  const applied = new Map<string, ServerEntry | undefined>();
  const failed: { key: string; error: string }[] = [];
  const fail = (key: string, error: unknown, keep: ServerEntry | undefined) => {
    failed.push({ key, error: describeError(error) });
    applied.set(key, keep);
  };
  const scaledTo = new Map(changes.scaled.map((s) => [s.key, s]));

  // 1. What frees processes and slots: removals, scale-downs.
  await Promise.all([
    ...changes.removed.map(async (key) => {
      const pids = pidsOf(coordinator, key);
      try {
        await coordinator.unregister(key, { timeoutMs: drainMs });
        report('unregistered', { key, pids });
        ctx.removed?.(key);
      } catch (error) {
        report('unregister-failed', { key, error: describeError(error) });
        fail(key, error, before.get(key));
      }
    }),
    ...changes.scaled
      .filter((s) => s.to < s.from)
      .map((s) => scale(s.key, s.from, s.to, before.get(s.key))),
  ]);

  // 2. Rollouts (then scale-ups onto the new spec), scale-ups, registrations.
  const server = (key: string) => next.servers.find((s) => s.name === key) as ServerEntry;
  await Promise.all([
    ...changes.changed.map(async (key) => {
      const entry = server(key);
      if (applied.has(key)) return; // its scale-down failed
      try {
        const r = await coordinator.reload(key, { spec: entry.spec, timeoutMs: drainMs });
        report('reloaded', reloadedFields(key, r));
        if (r.stopped !== undefined) {
          // Some replicas still run the old spec: keep the old entry, so the next reload rolls
          // again. Its replica count is what runs now.
          const old = before.get(key) as ServerEntry;
          applied.set(key, { ...old, replicas: coordinator.snapshot(key).replicas.length });
          failed.push({
            key,
            error: `rollout stopped at replica ${r.stopped.replica}: ${r.stopped.reason}`,
          });
          return;
        }
      } catch (error) {
        report('reload-failed', { key, error: describeError(error) });
        fail(key, error, before.get(key));
        return;
      }
      const s = scaledTo.get(key);
      if (s !== undefined && s.to > s.from) await scale(key, s.from, s.to, entry);
    }),
    ...changes.scaled
      .filter((s) => s.to > s.from && !changes.changed.includes(s.key))
      .map((s) => scale(s.key, s.from, s.to, before.get(s.key))),
    ...changes.added.map(async (key) => {
      const entry = server(key);
      try {
        await coordinator.register(key, entry.spec, { replicas: entry.replicas });
        report('registered', {
          key,
          replicas: entry.replicas,
          pids: pidsOf(coordinator, key),
        });
      } catch (error) {
        report('register-failed', { key, error: describeError(error) });
        fail(key, error, undefined);
      }
    }),
  ]);

  const servers: ServerEntry[] = [];
  for (const s of next.servers) {
    if (!applied.has(s.name)) servers.push(s);
    else {
      const kept = applied.get(s.name);
      if (kept !== undefined) servers.push(kept);
    }
  }
  for (const key of changes.removed) {
    const kept = applied.get(key);
    if (kept !== undefined) servers.push(kept);
  }
  return { servers, failed };

  /** `running`: the entry whose spec the key runs (for what to keep if scaling fails). */
  async function scale(key: string, from: number, to: number, running: ServerEntry | undefined) {
    try {
      await coordinator.scale(key, to, { timeoutMs: drainMs });
      report('scaled', { key, from, to, pids: pidsOf(coordinator, key) });
    } catch (error) {
      report('scale-failed', { key, from, to, error: describeError(error) });
      const now = pidsOf(coordinator, key).length;
      fail(key, error, running === undefined ? undefined : { ...running, replicas: now || from });
    }
  }
}

/** The `reloaded` event's fields for `key`'s rollout (a config reload's, or SIGUSR2's). */
export function reloadedFields(key: string, r: ReloadReport): Fields {
  return {
    key,
    pids: r.replaced.map((x) => x.toPid),
    replaced: r.replaced.length,
    skipped: r.skipped.length,
    ...(r.stopped === undefined ? {} : { stoppedAt: r.stopped.replica, reason: r.stopped.reason }),
  };
}

export function pidsOf(coordinator: Coordinator, key: string): number[] {
  try {
    return coordinator.snapshot(key).replicas.map((r) => r.pid);
  } catch {
    return [];
  }
}

export function describeError(error: unknown): string {
  if (error instanceof AtomvisorError) return `${error.code}: ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}
