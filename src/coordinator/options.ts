/**
 * Coordinator options: the zod schema is the one definition of every option — its range, its
 * default, its description — read by createCoordinator(), by `atomvisor run` config files (whose
 * top level takes the same fields, src/run/schema.ts) and by their JSON Schema.
 * CoordinatorOptions (what users pass) and ResolvedOptions (every field filled in) are derived
 * from it; `resolveOptions(undefined)` gives the defaults, so `createCoordinator()` alone works.
 * docs/coordinator.md lists the same table for users.
 *
 * Also here: register()'s options and the replica count scale() takes.
 */
import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { int, machineDefault, ms, nonEmpty } from '../schema/fields.ts';
import { parseOrThrow } from '../schema/issues.ts';

/** The MCP SDK's stdio allow-list: enough for a server to run, none of the parent's secrets. */
export const DEFAULT_ENV_ALLOW = ['HOME', 'LOGNAME', 'PATH', 'SHELL', 'TERM', 'USER'] as const;

const COUNT_MAX = 1_000_000;

/** min(2, available cores): IO and probe worker threads. */
const threads = (what: string) =>
  machineDefault(
    int(1, 64)
      .default(() => Math.max(1, Math.min(2, availableParallelism())))
      .describe(`${what} Default min(2, available cores).`),
  );

const stop = z
  .strictObject({
    stdinGraceMs: ms().default(2_000).describe('After ending stdin, wait this long, then SIGTERM.'),
    termGraceMs: ms()
      .default(2_000)
      .describe('After SIGTERM to the group, wait this long, then SIGKILL.'),
  })
  .prefault({})
  .describe('Stopping a process: end stdin, wait, SIGTERM the group, wait, SIGKILL.');

const restart = z
  .strictObject({
    initialDelayMs: ms().default(100).describe('The first backoff delay (full jitter).'),
    maxDelayMs: ms().default(30_000).describe('The longest backoff delay.'),
    resetAfterMs: ms()
      .default(60_000)
      .describe('Running this long without exiting resets the backoff.'),
    maxRestarts: int(0, COUNT_MAX)
      .default(5)
      .describe('More restarts than this within windowMs mark the connection failed.'),
    windowMs: ms(1).default(60_000).describe('The restart breaker’s window.'),
  })
  .superRefine((r, ctx) => {
    if (r.maxDelayMs < r.initialDelayMs)
      ctx.addIssue({
        code: 'custom',
        path: ['maxDelayMs'],
        input: r.maxDelayMs,
        message: 'must be ≥ options.restart.initialDelayMs',
      });
  })
  .prefault({})
  .describe('Restarts after an unexpected exit: full-jitter exponential backoff and a breaker.');

const housekeeping = z
  .strictObject({
    intervalMs: ms(10).default(1_000).describe('How often housekeeping runs.'),
    idleTimeoutMs: ms()
      .default(0)
      .describe('Stop a connection unused this long (it restarts on demand). 0 = never.'),
    maxLifetimeMs: ms()
      .default(0)
      .describe(
        'Retire a connection after this long (minus up to lifetimeVariance of it, at random). 0 = never.',
      ),
    lifetimeVariance: z
      .number()
      .min(0)
      .max(0.5)
      .default(0.025)
      .describe('The share of maxLifetimeMs by which a retirement may come earlier, at random.'),
    leakDetectionMs: ms()
      .default(0)
      .describe("Emit 'leak' with the acquirer's stack for a lease held this long. 0 = off."),
    leaseTimeoutMs: ms()
      .default(0)
      .describe('Force-evict a lease held this long and kill its process. 0 = off.'),
    memoryCheckMs: ms(10)
      .default(1_000)
      .describe('How often each IO worker measures the process groups with spec.maxMemoryMb.'),
    measureMemory: z
      .boolean()
      .default(false)
      .describe('Measure every process group’s memory, not only the limited ones.'),
  })
  .prefault({})
  .describe('Idle, lifetime, leak, lease and memory checks, run every intervalMs.');

const env = z
  .strictObject({
    allow: z
      .array(z.string())
      .default(() => [...DEFAULT_ENV_ALLOW])
      .describe('The variables of ours a child gets.'),
    inherit: z.boolean().default(false).describe('Give children our whole environment.'),
  })
  .prefault({})
  .describe("Children's environment: the allow-listed variables of ours, then the spec's env.");

const probes = z
  .strictObject({
    threads: threads('Probe worker threads.'),
    tasksPerThread: int(1, 1024)
      .default(32)
      .describe('Probes one worker runs at once (they are I/O bound).'),
  })
  .prefault({})
  .describe(
    'The probe worker pool (piscina) for exec/tcp/http/module probes; started on first use.',
  );

/**
 * Every option, in the order errors are reported. A config file's top level takes these same
 * fields, so a rule between options belongs inside one of them (as restart's), not on the whole.
 */
export const COORDINATOR_OPTION_FIELDS = {
  capacity: int(1, 65_536)
    .default(256)
    .describe('Slots in the shared table: the most connections (replicas included) at once.'),
  ioWorkers: threads('IO worker threads that own the child processes.'),
  maxInFlight: int(1, COUNT_MAX)
    .default(64)
    .describe('Requests in flight per connection before further ones queue.'),
  maxQueued: int(0, COUNT_MAX)
    .default(1024)
    .describe('Requests queued per connection beyond maxInFlight; more are refused.'),
  maxWaiting: int(0, COUNT_MAX)
    .default(1024)
    .describe('Callers waiting in acquire() per key; more are refused.'),
  requestTimeoutMs: ms(1)
    .default(60_000)
    .describe("A request's inactivity timeout (reset by progress notifications)."),
  maxTotalTimeoutMs: ms(1).optional().describe("A request's total deadline, progress or not."),
  acquireTimeoutMs: ms()
    .default(30_000)
    .describe('How long acquire() and request() wait for a usable connection.'),
  startTimeoutMs: ms(1)
    .default(30_000)
    .describe('How long a start (spawn + handshake) may take before it counts as failed.'),
  maxLineBytes: int(1024, 1024 ** 3)
    .default(4 * 1024 * 1024)
    .describe('Longest message accepted on stdout; longer ones are dropped and reported.'),
  stop,
  restart,
  housekeeping,
  env,
  probes,
  stateFile: nonEmpty()
    .optional()
    .describe(
      'A file where this coordinator records its process groups, so the next one can reap them.',
    ),
};

export const coordinatorOptionsSchema = z.strictObject(COORDINATOR_OPTION_FIELDS);

/** Options as createCoordinator() takes them: every one optional. */
export type CoordinatorOptions = z.input<typeof coordinatorOptionsSchema>;
/** Options with every default filled in. */
export type ResolvedOptions = z.output<typeof coordinatorOptionsSchema>;

export function resolveOptions(input: unknown): ResolvedOptions {
  return parseOrThrow(coordinatorOptionsSchema, input ?? {}, 'options');
}

/** How many identical processes a key runs: register()'s and scale()'s, a config's `replicas`. */
export const replicasSchema = int(1, 1024).describe('Identical processes for this key.');

const registerOptionsSchema = z.strictObject({ replicas: replicasSchema.default(1) });

/** register()'s third argument. */
export type RegisterOptions = z.input<typeof registerOptionsSchema>;

export function resolveRegisterOptions(input: unknown): z.output<typeof registerOptionsSchema> {
  return parseOrThrow(registerOptionsSchema, input ?? {}, 'options');
}

/** A replica count (scale()'s argument), InvalidArgumentError naming `field` otherwise. */
export function checkReplicas(input: unknown, field: string): number {
  return parseOrThrow(replicasSchema, input, field);
}
