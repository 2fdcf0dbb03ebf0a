/**
 * A connection spec: what to run and how to greet it. Validated once, at register().
 */
import { InvalidArgumentError } from '../errors.ts';
import {
  type Bag,
  readObject,
  readOptionalNumber,
  readString,
  readStringArray,
  readStringRecord,
} from '../options.ts';
import { type ProbeSpec, type ResolvedProbes, resolveProbes } from '../probes/spec.ts';
import { describe } from '../shm/validate.ts';

/** What the onStart hook gets: the new process, before anyone else may use it. */
export interface StartingConnection {
  readonly key: string;
  readonly pid: number;
  request(method: string, params?: unknown, options?: { timeoutMs?: number }): Promise<unknown>;
  notify(method: string, params?: unknown): Promise<void>;
}

export interface ConnectionSpec {
  command: string;
  args?: string[];
  cwd?: string;
  /** Extra environment variables, added to the allow-listed ones. */
  env?: Record<string, string>;
  /** Pass the coordinator's whole environment (not just the allow-list). Default false. */
  inheritEnv?: boolean;
  protocol?: 'jsonrpc-lines';
  /** A request sent on every (re)start before the connection turns ready, e.g. MCP initialize. */
  initialize?: {
    method: string;
    params?: unknown;
    notification?: { method: string; params?: unknown };
  };
  /** Or a hook run on every (re)start; its result is kept like initialize's. */
  onStart?: (connection: StartingConnection) => unknown;
  /** Kubernetes-style health probes (docs/health.md). A failing liveness probe restarts the process. */
  liveness?: ProbeSpec;
  /** A failing readiness probe takes the replica out of service (no restart) until it passes. */
  readiness?: ProbeSpec;
  /** Until the startup probe passes, the replica is unready and the other probes do not run. */
  startup?: ProbeSpec;
  /**
   * Retire (drain, stop, start afresh) a replica whose process group — the server and everything
   * it started — holds more than this much resident memory, in MiB (1 MiB = 2^20 bytes). Checked
   * every `housekeeping.memoryCheckMs` (Linux /proc; elsewhere not enforced).
   */
  maxMemoryMb?: number;
}

export interface ResolvedSpec {
  command: string;
  args: string[];
  cwd: string | undefined;
  env: Record<string, string>;
  inheritEnv: boolean;
  protocol: 'jsonrpc-lines';
  initialize:
    | { method: string; params?: unknown; notification?: { method: string; params?: unknown } }
    | undefined;
  onStart: ((connection: StartingConnection) => unknown) | undefined;
  probes: ResolvedProbes;
  /** From maxMemoryMb; undefined: no limit. */
  maxMemoryBytes: number | undefined;
}

const SPEC_KEYS = [
  'command',
  'args',
  'cwd',
  'env',
  'inheritEnv',
  'protocol',
  'initialize',
  'onStart',
  'liveness',
  'readiness',
  'startup',
  'maxMemoryMb',
] as const;

export function resolveSpec(input: unknown, field = 'spec'): ResolvedSpec {
  if (input === undefined) throw new InvalidArgumentError(field, 'a connection spec is required');
  const spec = readObject(input, field, SPEC_KEYS);
  const command = readString(spec, 'command', field, { nonEmpty: true });
  if (command === undefined) throw new InvalidArgumentError(`${field}.command`, 'is required');
  const protocol = readString(spec, 'protocol', field, { default: 'jsonrpc-lines' });
  if (protocol !== 'jsonrpc-lines') {
    throw new InvalidArgumentError(
      `${field}.protocol`,
      `only 'jsonrpc-lines' is supported, got ${describe(protocol)}`,
    );
  }
  const inheritEnv = spec.inheritEnv;
  if (inheritEnv !== undefined && typeof inheritEnv !== 'boolean') {
    throw new InvalidArgumentError(
      `${field}.inheritEnv`,
      `expected true or false, got ${describe(inheritEnv)}`,
    );
  }
  const onStart = spec.onStart;
  if (onStart !== undefined && typeof onStart !== 'function') {
    throw new InvalidArgumentError(
      `${field}.onStart`,
      `expected a function, got ${describe(onStart)}`,
    );
  }
  if (onStart !== undefined && spec.initialize !== undefined) {
    throw new InvalidArgumentError(
      `${field}.onStart`,
      'give either initialize or onStart, not both',
    );
  }
  return {
    command,
    args: readStringArray(spec, 'args', field, []),
    cwd: readString(spec, 'cwd', field, { nonEmpty: true }),
    env: readStringRecord(spec, 'env', field),
    inheritEnv: inheritEnv ?? false,
    protocol: 'jsonrpc-lines',
    initialize: resolveInitialize(spec, field),
    onStart: onStart as ResolvedSpec['onStart'],
    probes: resolveProbes(spec, field),
    maxMemoryBytes: resolveMaxMemory(spec, field),
  };
}

/** The largest limit accepted: 1 TiB, far above any machine this runs on, far below 2^53. */
const MAX_MEMORY_MB = 1024 * 1024;

function resolveMaxMemory(spec: Bag, field: string): number | undefined {
  const mb = readOptionalNumber(spec, 'maxMemoryMb', field, { min: 1, max: MAX_MEMORY_MB });
  return mb === undefined ? undefined : Math.round(mb * 2 ** 20);
}

function resolveInitialize(spec: Bag, field: string): ResolvedSpec['initialize'] {
  if (spec.initialize === undefined) return undefined;
  const init = readObject(spec.initialize, `${field}.initialize`, [
    'method',
    'params',
    'notification',
  ]);
  const method = readString(init, 'method', `${field}.initialize`, { nonEmpty: true });
  if (method === undefined)
    throw new InvalidArgumentError(`${field}.initialize.method`, 'is required');
  const out: NonNullable<ResolvedSpec['initialize']> = { method, params: init.params };
  if (init.notification !== undefined) {
    const n = readObject(init.notification, `${field}.initialize.notification`, [
      'method',
      'params',
    ]);
    const nMethod = readString(n, 'method', `${field}.initialize.notification`, { nonEmpty: true });
    if (nMethod === undefined)
      throw new InvalidArgumentError(`${field}.initialize.notification.method`, 'is required');
    out.notification = { method: nMethod, params: n.params };
  }
  return out;
}

/** The child's environment: the allow-listed variables of ours, then the spec's own. */
export function childEnvironment(
  spec: ResolvedSpec,
  allow: readonly string[],
  inheritAll: boolean,
  parent: NodeJS.ProcessEnv = process.env,
): Record<string, string> {
  const env: Record<string, string> = {};
  if (inheritAll || spec.inheritEnv) {
    for (const [k, v] of Object.entries(parent)) if (v !== undefined) env[k] = v;
  } else {
    for (const name of allow) {
      const v = parent[name];
      if (v !== undefined) env[name] = v;
    }
  }
  return Object.assign(env, spec.env);
}
