/**
 * A connection spec: what to run and how to greet it. The zod schema here is the one definition —
 * fields, defaults, ranges and the cross-field rules — read by register() / reload() (validated
 * once there, never per request), by `atomvisor run` config files (src/run/schema.ts) and by their
 * JSON Schema. ConnectionSpec (what users pass) and ResolvedSpec (what the supervisor runs) are
 * derived from it.
 *
 * Function fields (onRequest, onNotification, onStart) are part of the API and of .js/.ts
 * configs; SPEC_DATA_FIELDS, the JSON-able rest, is what JSON config files and the JSON Schema get.
 */
import { z } from 'zod';
import { FRAMING_PROTOCOLS, type FramingProtocol } from '../io/framing.ts';
import { probeFields } from '../probes/spec.ts';
import { fn, nonEmpty } from '../schema/fields.ts';
import { parseOrThrow } from '../schema/issues.ts';
import { Handlers, type NotificationHandler, type RequestHandler } from './handlers.ts';

/** What the onStart hook gets: the new process, before anyone else may use it. */
export interface StartingConnection {
  readonly key: string;
  readonly pid: number;
  request(method: string, params?: unknown, options?: { timeoutMs?: number }): Promise<unknown>;
  notify(method: string, params?: unknown): Promise<void>;
}

/** The largest limit accepted: 1 TiB, far above any machine this runs on, far below 2^53. */
const MAX_MEMORY_MB = 1024 * 1024;

const message = { method: nonEmpty(), params: z.unknown().optional() };

/** The fields a JSON config may hold too, in the order errors are reported. */
export const SPEC_DATA_FIELDS = {
  command: nonEmpty().describe('The program to run (looked up on the allow-listed PATH).'),
  args: z
    .array(z.string())
    .default(() => [])
    .describe('Arguments.'),
  cwd: nonEmpty().optional().describe('Working directory.'),
  env: z
    .record(z.string(), z.string())
    .default(() => ({}))
    .describe('Extra environment variables, added to the allow-listed ones.'),
  inheritEnv: z
    .boolean()
    .default(false)
    .describe("Pass the coordinator's whole environment (not just the allow-list)."),
  protocol: z
    .enum(FRAMING_PROTOCOLS as readonly [FramingProtocol, ...FramingProtocol[]])
    .default('jsonrpc-lines')
    .describe(
      "How it talks on stdio: newline-delimited JSON-RPC ('jsonrpc-lines': MCP, ACP), JSON-RPC with Content-Length headers ('lsp': language servers, DAP), or not at all ('none': a plain supervised process; its stdout lines become events).",
    ),
  initialize: z
    .strictObject({ ...message, notification: z.strictObject(message).optional() })
    .optional()
    .describe(
      'A request sent on every (re)start before the connection turns ready (e.g. MCP initialize), then the notification, if any.',
    ),
  ...probeFields,
  maxMemoryMb: z
    .number()
    .min(1)
    .max(MAX_MEMORY_MB)
    .optional()
    .describe(
      'Retire (drain, stop, start afresh) a replica whose process group holds more resident memory than this, in MiB. Checked every housekeeping.memoryCheckMs (Linux).',
    ),
};

/** The function fields: the API's and .js/.ts configs' only. */
export const SPEC_FUNCTION_FIELDS = {
  /**
   * Answers to requests the server makes of the client, by method ('*': any), for every replica
   * of the key, the start handshake included (a lease's and the key's handlers come first).
   */
  onRequest: z.record(nonEmpty(), fn<RequestHandler>()).optional(),
  /** Handlers for the server's notifications, by method ('*': any). */
  onNotification: z.record(nonEmpty(), fn<NotificationHandler>()).optional(),
  /** Or, instead of initialize, a hook run on every (re)start; its result is kept like initialize's. */
  onStart: fn<(connection: StartingConnection) => unknown>().optional(),
};

/** Every field (a config server adds `replicas`); specRules holds the rules between them. */
export const SPEC_FIELDS = { ...SPEC_DATA_FIELDS, ...SPEC_FUNCTION_FIELDS };

type SpecFields = z.output<z.ZodObject<typeof SPEC_FIELDS>>;

/**
 * The rules between fields, for every schema made of SPEC_FIELDS (the API's, a config server's):
 * initialize xor onStart; a process that speaks no protocol cannot be greeted, pinged or answered.
 */
export function specRules(spec: SpecFields, ctx: z.RefinementCtx): void {
  const add = (path: PropertyKey[], message: string) =>
    ctx.addIssue({ code: 'custom', path, message });
  if (spec.onStart !== undefined && spec.initialize !== undefined)
    add(['onStart'], 'give either initialize or onStart, not both');
  if (spec.protocol !== 'none') return;
  const why = "has no stdin protocol (protocol 'none')";
  if (spec.initialize !== undefined) add(['initialize'], `cannot be sent: the server ${why}`);
  if (spec.onStart !== undefined) add(['onStart'], `cannot talk to the server: it ${why}`);
  for (const name of ['onRequest', 'onNotification'] as const) {
    if (Object.keys(spec[name] ?? {}).length > 0)
      add([name], `will never be called: the server ${why}`);
  }
  for (const name of ['liveness', 'readiness', 'startup'] as const) {
    if (spec[name]?.check.kind === 'jsonrpc')
      add(
        [name, 'kind'],
        `'jsonrpc' cannot ping a server that ${why}: use exec, tcp, http or module`,
      );
  }
}

export const connectionSpecSchema = z
  .strictObject(SPEC_FIELDS)
  .superRefine(specRules)
  .transform((spec) => ({
    command: spec.command,
    args: spec.args,
    cwd: spec.cwd,
    env: spec.env,
    inheritEnv: spec.inheritEnv,
    protocol: spec.protocol,
    /** spec.onRequest and spec.onNotification. */
    handlers: Handlers.fromRecord(spec.onRequest, spec.onNotification),
    initialize: spec.initialize,
    onStart: spec.onStart,
    probes: { liveness: spec.liveness, readiness: spec.readiness, startup: spec.startup },
    /** From maxMemoryMb; undefined: no limit. */
    maxMemoryBytes:
      spec.maxMemoryMb === undefined ? undefined : Math.round(spec.maxMemoryMb * 2 ** 20),
  }));

/** A connection spec as register() takes it. */
export type ConnectionSpec = z.input<typeof connectionSpecSchema>;
/** A connection spec checked, with its defaults, handlers and probes resolved. */
export type ResolvedSpec = z.output<typeof connectionSpecSchema>;

/** `input` checked and resolved; InvalidArgumentError naming `field.…` otherwise. */
export function resolveSpec(input: unknown, field = 'spec'): ResolvedSpec {
  return parseOrThrow(connectionSpecSchema, input, field);
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
