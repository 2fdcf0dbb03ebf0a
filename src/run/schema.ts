/**
 * The zod schema of an `atomvisor run` config file. Its shapes are the API's own: a server is a
 * ConnectionSpec (src/coordinator/spec.ts) plus `replicas`, its probes are ProbeSpecs
 * (src/probes/spec.ts), and the top level takes every CoordinatorOption — so a config and an
 * embedding read alike. The schema checks structure (unknown fields, types, required fields);
 * the API's own resolvers then check the semantics (ranges, combinations), in config.ts.
 */
import { z } from 'zod';

const count = (min: number) => z.number().int().min(min);
const ms = z.number().min(0);

const timing = {
  periodMs: z.number().positive().optional(),
  timeoutMs: z.number().positive().optional(),
  initialDelayMs: ms.optional(),
  failureThreshold: count(1).optional(),
  successThreshold: count(1).optional(),
};

export const probeSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('jsonrpc'),
    method: z.string().min(1),
    params: z.unknown().optional(),
    ...timing,
  }),
  z.strictObject({
    kind: z.literal('exec'),
    command: z.string().min(1),
    args: z.array(z.string()).optional(),
    ...timing,
  }),
  z.strictObject({
    kind: z.literal('tcp'),
    port: count(1).max(65_535),
    host: z.string().min(1).optional(),
    ...timing,
  }),
  z.strictObject({ kind: z.literal('http'), url: z.string().min(1), ...timing }),
  z.strictObject({
    kind: z.literal('module'),
    path: z.string().min(1),
    export: z.string().min(1).optional(),
    ...timing,
  }),
]);

const message = z.strictObject({ method: z.string().min(1), params: z.unknown().optional() });

export const serverSchema = z.strictObject({
  command: z.string().min(1),
  args: z.array(z.string()).optional(),
  env: z.record(z.string(), z.string()).optional(),
  cwd: z.string().min(1).optional(),
  replicas: count(1).max(1024).optional(),
  inheritEnv: z.boolean().optional(),
  protocol: z.enum(['jsonrpc-lines', 'lsp', 'none']).optional(),
  initialize: z.strictObject({ ...message.shape, notification: message.optional() }).optional(),
  /** Only in .js/.ts configs: a function cannot be written in JSON. */
  onStart: z
    .custom<(connection: unknown) => unknown>((v) => typeof v === 'function', {
      message: 'expected a function',
    })
    .optional(),
  liveness: probeSchema.optional(),
  readiness: probeSchema.optional(),
  startup: probeSchema.optional(),
  /** Resident memory of the server's whole process group, in MiB; over it, the replica is retired. */
  maxMemoryMb: z.number().min(1).optional(),
});

/** Every CoordinatorOption (src/coordinator/options.ts), same names, same nesting. */
const coordinatorOptions = {
  capacity: count(1).optional(),
  ioWorkers: count(1).optional(),
  maxInFlight: count(1).optional(),
  maxQueued: count(0).optional(),
  maxWaiting: count(0).optional(),
  requestTimeoutMs: ms.optional(),
  maxTotalTimeoutMs: ms.optional(),
  acquireTimeoutMs: ms.optional(),
  startTimeoutMs: ms.optional(),
  maxLineBytes: count(1).optional(),
  stop: z.strictObject({ stdinGraceMs: ms.optional(), termGraceMs: ms.optional() }).optional(),
  restart: z
    .strictObject({
      initialDelayMs: ms.optional(),
      maxDelayMs: ms.optional(),
      resetAfterMs: ms.optional(),
      maxRestarts: count(0).optional(),
      windowMs: ms.optional(),
    })
    .optional(),
  housekeeping: z
    .strictObject({
      intervalMs: ms.optional(),
      idleTimeoutMs: ms.optional(),
      maxLifetimeMs: ms.optional(),
      lifetimeVariance: z.number().min(0).optional(),
      leakDetectionMs: ms.optional(),
      leaseTimeoutMs: ms.optional(),
      memoryCheckMs: ms.optional(),
      measureMemory: z.boolean().optional(),
    })
    .optional(),
  env: z
    .strictObject({ allow: z.array(z.string()).optional(), inherit: z.boolean().optional() })
    .optional(),
  probes: z
    .strictObject({ threads: count(1).optional(), tasksPerThread: count(1).optional() })
    .optional(),
  stateFile: z.string().min(1).optional(),
};

export const COORDINATOR_OPTION_KEYS = Object.keys(coordinatorOptions);

export const configSchema = z.strictObject({
  /** Editors' JSON schema pointer; ignored. */
  $schema: z.string().optional(),
  servers: z
    .record(z.string().min(1), serverSchema)
    .refine((servers) => Object.keys(servers).length > 0, { message: 'name at least one server' }),
  http: z
    .strictObject({
      host: z.string().min(1).optional(),
      port: count(0).max(65_535),
    })
    .optional(),
  /** SIGINT/SIGTERM: how long in-flight work may finish before processes are stopped. */
  shutdownTimeoutMs: ms.optional(),
  /** Each server's output to DIR/NAME.log and the event log to DIR/atomvisor.log, rotated by size. */
  logs: z
    .strictObject({
      dir: z.string().min(1),
      /** Rotate a file once it would grow past this (bytes). */
      maxBytes: count(1024).optional(),
      /** Rotated files kept (NAME.log.1 … NAME.log.N); the oldest is deleted. */
      keep: count(0).max(1000).optional(),
    })
    .optional(),
  /** Keep running when the process that started atomvisor goes away (default: shut down). */
  detach: z.boolean().optional(),
  ...coordinatorOptions,
});

export type ServerConfig = z.infer<typeof serverSchema>;
export type RawConfig = z.infer<typeof configSchema>;
