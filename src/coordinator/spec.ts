/**
 * A connection spec: what to run and how to greet it. Validated once, at register().
 */
import { InvalidArgumentError } from '../errors.ts';
import { FRAMING_PROTOCOLS, type FramingProtocol } from '../io/framing.ts';
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
import { Handlers, type NotificationHandler, type RequestHandler } from './handlers.ts';

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
  /**
   * How it talks on stdio: newline-delimited JSON-RPC ('jsonrpc-lines', the default: MCP, ACP),
   * JSON-RPC with `Content-Length:` headers ('lsp': language servers, DAP), or not at all
   * ('none': a plain supervised process; its stdout lines become `stdout` events).
   */
  protocol?: FramingProtocol;
  /**
   * Answers to requests the server makes of the client, by method ('*': any), for every replica
   * of the key, the start handshake included (a lease's and the key's handlers come first).
   * Functions: not available in JSON config files.
   */
  onRequest?: Record<string, RequestHandler>;
  /** Handlers for the server's notifications, by method ('*': any). Functions, like onRequest. */
  onNotification?: Record<string, NotificationHandler>;
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
  protocol: FramingProtocol;
  /** spec.onRequest and spec.onNotification. */
  handlers: Handlers;
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
  'onRequest',
  'onNotification',
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
  if (!(FRAMING_PROTOCOLS as readonly unknown[]).includes(protocol)) {
    throw new InvalidArgumentError(
      `${field}.protocol`,
      `expected one of ${FRAMING_PROTOCOLS.map((p) => `'${p}'`).join(', ')}, got ${describe(protocol)}`,
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
  const resolved: ResolvedSpec = {
    command,
    args: readStringArray(spec, 'args', field, []),
    cwd: readString(spec, 'cwd', field, { nonEmpty: true }),
    env: readStringRecord(spec, 'env', field),
    inheritEnv: inheritEnv ?? false,
    protocol: protocol as FramingProtocol,
    handlers: Handlers.fromRecord(
      readHandlerRecord(spec, 'onRequest', field) as Record<string, RequestHandler> | undefined,
      readHandlerRecord(spec, 'onNotification', field) as
        | Record<string, NotificationHandler>
        | undefined,
    ),
    initialize: resolveInitialize(spec, field),
    onStart: onStart as ResolvedSpec['onStart'],
    probes: resolveProbes(spec, field),
    maxMemoryBytes: resolveMaxMemory(spec, field),
  };
  if (resolved.protocol === 'none') checkNoProtocol(resolved, field);
  return resolved;
}

/** A process that speaks no protocol cannot be greeted, pinged or answered. */
function checkNoProtocol(spec: ResolvedSpec, field: string): void {
  const why = "has no stdin protocol (protocol 'none')";
  if (spec.initialize !== undefined)
    throw new InvalidArgumentError(`${field}.initialize`, `cannot be sent: the server ${why}`);
  if (spec.onStart !== undefined)
    throw new InvalidArgumentError(`${field}.onStart`, `cannot talk to the server: it ${why}`);
  if (spec.handlers.size > 0)
    throw new InvalidArgumentError(`${field}.onRequest`, `will never be called: the server ${why}`);
  for (const [name, probe] of Object.entries(spec.probes)) {
    if (probe?.check.kind === 'jsonrpc')
      throw new InvalidArgumentError(
        `${field}.${name}.kind`,
        `'jsonrpc' cannot ping a server that ${why}: use exec, tcp, http or module`,
      );
  }
}

function readHandlerRecord(
  spec: Bag,
  name: string,
  field: string,
): Record<string, unknown> | undefined {
  const value = spec[name];
  if (value === undefined) return undefined;
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw new InvalidArgumentError(
      `${field}.${name}`,
      `expected an object of functions by method, got ${describe(value)}`,
    );
  for (const [method, handler] of Object.entries(value)) {
    if (typeof handler !== 'function')
      throw new InvalidArgumentError(
        `${field}.${name}.${method}`,
        `expected a function, got ${describe(handler)}`,
      );
  }
  return value as Record<string, unknown>;
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
