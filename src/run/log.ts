/**
 * Log output of `atomvisor run` when it has no terminal to draw on (or with --json): one line per
 * event. Text lines are logfmt-style (`TIME EVENT key=value ...`, values with spaces quoted) so
 * grep and log shippers take them as they are; `--json` writes newline-delimited JSON objects
 * `{ time, event, ...fields }`. The same events feed the live view's recent-events pane.
 */
import type { Writable } from 'node:stream';
import type { Coordinator } from '../coordinator/coordinator.ts';
import type { CoordinatorEvents } from '../coordinator/events.ts';

// `object`, not a Record: event payload interfaces have no index signature.
export type Fields = object;

export interface Reporter {
  event(name: string, fields?: Fields): void;
}

export function jsonReporter(out: Writable): Reporter {
  return {
    event(name, fields = {}) {
      out.write(`${JSON.stringify({ time: new Date().toISOString(), event: name, ...fields })}\n`);
    },
  };
}

export function textReporter(out: Writable): Reporter {
  return {
    event(name, fields = {}) {
      out.write(`${formatLine(new Date(), name, fields)}\n`);
    },
  };
}

export function formatLine(time: Date, name: string, fields: Fields): string {
  const parts = [time.toISOString(), name];
  for (const [key, value] of Object.entries(fields as Record<string, unknown>)) {
    if (value === undefined) continue;
    parts.push(`${key}=${formatValue(value)}`);
  }
  return parts.join(' ');
}

function formatValue(value: unknown): string {
  if (typeof value === 'string') return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null)
    return String(value);
  return JSON.stringify(value);
}

function errorText(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === 'string' ? `${code}: ${error.message}` : error.message;
  }
  return String(error);
}

/**
 * Forward the coordinator's events to `reporter`. Probe results are reported when a probe's
 * outcome changes (first result, pass → fail, fail → pass), not on every period. A server's
 * stderr and stdout lines are reported while `serverOutput()` says so (not when they go to log files).
 */
export function forwardEvents(
  coordinator: Coordinator,
  reporter: Reporter,
  options: { serverOutput?: () => boolean } = {},
): () => void {
  const serverOutput = options.serverOutput ?? (() => true);
  const lastProbe = new Map<string, { generation: number; ok: boolean }>();
  const listeners: { [E in keyof CoordinatorEvents]?: (e: CoordinatorEvents[E]) => void } = {
    spawn: (e) => reporter.event('spawn', e),
    ready: (e) => reporter.event('ready', { ...e, handshake: undefined }),
    'start-failed': (e) => reporter.event('start-failed', { ...e, error: errorText(e.error) }),
    exit: (e) =>
      reporter.event('exit', { ...e, stderrTail: e.expected ? undefined : e.stderrTail }),
    restart: (e) => reporter.event('restart', { ...e, delayMs: Math.round(e.delayMs) }),
    failed: (e) => reporter.event('failed', e),
    leak: (e) => reporter.event('leak', e),
    evict: (e) => reporter.event('evict', e),
    retire: (e) => reporter.event('retire', e),
    memory: (e) =>
      reporter.event('memory', {
        ...e,
        rssMb: Math.round(e.rssBytes / 2 ** 20),
        limitMb: Math.round(e.limitBytes / 2 ** 20),
      }),
    protocol: (e) => reporter.event('protocol', e),
    stderr: (e) => {
      if (serverOutput()) reporter.event('stderr', e);
    },
    stdout: (e) => {
      if (serverOutput()) reporter.event('stdout', e);
    },
    'server-request': (e) => reporter.event('server-request', e),
    unhealthy: (e) => reporter.event('unhealthy', e),
    'io-worker-exit': (e) => reporter.event('io-worker-exit', e),
    probe: (e) => {
      // Per slot and probe; a new generation (a new process) starts over.
      const id = `${e.slot}:${e.probe}`;
      const last = lastProbe.get(id);
      if (last?.generation === e.generation && last.ok === e.ok) return;
      lastProbe.set(id, { generation: e.generation, ok: e.ok });
      reporter.event('probe', {
        key: e.key,
        slot: e.slot,
        generation: e.generation,
        probe: e.probe,
        kind: e.kind,
        ok: e.ok,
        latencyMs: Math.round(e.latencyMs * 10) / 10,
        reason: e.reason,
      });
    },
  };
  for (const [event, fn] of Object.entries(listeners))
    coordinator.on(event, fn as (...args: unknown[]) => void);
  return () => {
    for (const [event, fn] of Object.entries(listeners))
      coordinator.off(event, fn as (...args: unknown[]) => void);
  };
}
