/**
 * Health probe specs: what a connection spec's `liveness`, `readiness` and `startup` fields may
 * hold, their Kubernetes defaults, and their validation (InvalidArgumentError naming the field,
 * e.g. `spec.liveness.periodMs`).
 */
import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidArgumentError } from '../errors.ts';
import { type Bag, readNumber, readObject, readString, readStringArray } from '../options.ts';
import { describe } from '../shm/validate.ts';

export type ProbeName = 'liveness' | 'readiness' | 'startup';
export type ProbeKind = 'jsonrpc' | 'exec' | 'tcp' | 'http' | 'module';

export const PROBE_NAMES: readonly ProbeName[] = ['startup', 'liveness', 'readiness'];
export const PROBE_KINDS: readonly ProbeKind[] = ['jsonrpc', 'exec', 'tcp', 'http', 'module'];

/** Timing and thresholds shared by every kind (Kubernetes semantics and defaults). */
export interface ProbeTiming {
  /** How often to probe. Default 10 000 ms. */
  periodMs?: number;
  /** A probe not done by then fails. Default 1 000 ms. */
  timeoutMs?: number;
  /** Wait this long after the connection turned ready (or startup passed) before probing. Default 0. */
  initialDelayMs?: number;
  /** Consecutive failures that count as failed. Default 3. */
  failureThreshold?: number;
  /** Consecutive successes that count as passed after a failure. Default 1 (must be 1 for liveness, startup). */
  successThreshold?: number;
}

export type ProbeSpec = ProbeTiming &
  (
    | { kind: 'jsonrpc'; method: string; params?: unknown }
    | { kind: 'exec'; command: string; args?: string[] }
    | { kind: 'tcp'; port: number; host?: string }
    | { kind: 'http'; url: string }
    | { kind: 'module'; path: string; export?: string }
  );

/** What a probe checks, without its timing: also the piscina task's payload (minus context). */
export type ProbeCheck =
  | { kind: 'jsonrpc'; method: string; params: unknown }
  | { kind: 'exec'; command: string; args: string[] }
  | { kind: 'tcp'; port: number; host: string }
  | { kind: 'http'; url: string }
  | { kind: 'module'; path: string; export: string };

export interface ResolvedProbe {
  name: ProbeName;
  check: ProbeCheck;
  periodMs: number;
  timeoutMs: number;
  initialDelayMs: number;
  failureThreshold: number;
  successThreshold: number;
}

export interface ResolvedProbes {
  liveness: ResolvedProbe | undefined;
  readiness: ResolvedProbe | undefined;
  startup: ResolvedProbe | undefined;
}

const DAY = 86_400_000;
/** Counters are packed 10 bits per probe in the slot (src/probes/counters.ts): thresholds fit. */
export const MAX_THRESHOLD = 1000;

const TIMING_KEYS = [
  'kind',
  'periodMs',
  'timeoutMs',
  'initialDelayMs',
  'failureThreshold',
  'successThreshold',
] as const;
const KIND_KEYS: Record<ProbeKind, readonly string[]> = {
  jsonrpc: ['method', 'params'],
  exec: ['command', 'args'],
  tcp: ['port', 'host'],
  http: ['url'],
  module: ['path', 'export'],
};

const ALL_KEYS = [...TIMING_KEYS, ...new Set(Object.values(KIND_KEYS).flat())];

export function resolveProbes(spec: Bag, field: string): ResolvedProbes {
  return {
    liveness: resolveProbe(spec.liveness, 'liveness', `${field}.liveness`),
    readiness: resolveProbe(spec.readiness, 'readiness', `${field}.readiness`),
    startup: resolveProbe(spec.startup, 'startup', `${field}.startup`),
  };
}

export function resolveProbe(
  input: unknown,
  name: ProbeName,
  field: string,
): ResolvedProbe | undefined {
  if (input === undefined) return undefined;
  // First pass only to read the kind; the second refuses keys that kind does not take.
  const kind = readObject(input, field, ALL_KEYS).kind;
  if (typeof kind !== 'string' || !PROBE_KINDS.includes(kind as ProbeKind)) {
    throw new InvalidArgumentError(
      `${field}.kind`,
      `expected one of ${PROBE_KINDS.join(', ')}, got ${describe(kind)}`,
    );
  }
  const p = readObject(input, field, [...TIMING_KEYS, ...KIND_KEYS[kind as ProbeKind]]);
  const periodMs = readNumber(p, 'periodMs', field, { default: 10_000, min: 1, max: DAY });
  const timeoutMs = readNumber(p, 'timeoutMs', field, { default: 1_000, min: 1, max: DAY });
  const initialDelayMs = readNumber(p, 'initialDelayMs', field, { default: 0, min: 0, max: DAY });
  const failureThreshold = readNumber(p, 'failureThreshold', field, {
    default: 3,
    min: 1,
    max: MAX_THRESHOLD,
    integer: true,
  });
  const successThreshold = readNumber(p, 'successThreshold', field, {
    default: 1,
    min: 1,
    max: MAX_THRESHOLD,
    integer: true,
  });
  if (name !== 'readiness' && successThreshold !== 1) {
    throw new InvalidArgumentError(
      `${field}.successThreshold`,
      `must be 1 for ${name} probes (Kubernetes semantics), got ${successThreshold}`,
    );
  }
  return {
    name,
    check: resolveCheck(kind as ProbeKind, p, field),
    periodMs,
    timeoutMs,
    initialDelayMs,
    failureThreshold,
    successThreshold,
  };
}

function resolveCheck(kind: ProbeKind, p: Bag, field: string): ProbeCheck {
  const required = (key: string): string => {
    const value = readString(p, key, field, { nonEmpty: true });
    if (value === undefined) throw new InvalidArgumentError(`${field}.${key}`, 'is required');
    return value;
  };
  switch (kind) {
    case 'jsonrpc':
      return { kind, method: required('method'), params: p.params };
    case 'exec':
      return { kind, command: required('command'), args: readStringArray(p, 'args', field, []) };
    case 'tcp': {
      if (p.port === undefined) throw new InvalidArgumentError(`${field}.port`, 'is required');
      const port = readNumber(p, 'port', field, { default: 0, min: 1, max: 65_535, integer: true });
      return { kind, port, host: readString(p, 'host', field, { nonEmpty: true }) ?? '127.0.0.1' };
    }
    case 'http': {
      const url = required('url');
      let parsed: URL;
      try {
        parsed = new URL(url);
      } catch {
        throw new InvalidArgumentError(`${field}.url`, `not a URL: ${JSON.stringify(url)}`);
      }
      if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
        throw new InvalidArgumentError(
          `${field}.url`,
          `expected an http: or https: URL, got ${parsed.protocol}`,
        );
      }
      return { kind, url };
    }
    case 'module':
      return {
        kind,
        path: toPath(required('path')),
        export: readString(p, 'export', field, { nonEmpty: true }) ?? 'default',
      };
  }
}

/** A module probe's file as an absolute path (relative paths are taken from the cwd at register). */
function toPath(path: string): string {
  if (path.startsWith('file:')) return fileURLToPath(path);
  return isAbsolute(path) ? path : resolve(path);
}
