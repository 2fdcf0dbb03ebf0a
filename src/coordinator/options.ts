/**
 * Coordinator options: every option, its default, and its validation, in one place.
 * `resolveOptions(undefined)` gives the defaults, so `createCoordinator()` alone works.
 * docs/coordinator.md lists the same table for users.
 */
import { availableParallelism } from 'node:os';
import { InvalidArgumentError } from '../errors.ts';
import {
  readBoolean,
  readNumber,
  readObject,
  readOptionalNumber,
  readString,
  readStringArray,
} from '../options.ts';

/** The MCP SDK's stdio allow-list: enough for a server to run, none of the parent's secrets. */
export const DEFAULT_ENV_ALLOW = ['HOME', 'LOGNAME', 'PATH', 'SHELL', 'TERM', 'USER'] as const;

export interface CoordinatorOptions {
  /** Slots in the shared table: the most connections (replicas included) at once. Default 256. */
  capacity?: number;
  /** IO worker threads that own the child processes. Default min(2, available cores). */
  ioWorkers?: number;
  /** Requests in flight per connection before further ones queue. Default 64. */
  maxInFlight?: number;
  /** Requests queued per connection beyond maxInFlight; more are refused. Default 1024. */
  maxQueued?: number;
  /** Callers waiting in acquire() per key; more are refused (QueueFullError). Default 1024. */
  maxWaiting?: number;
  /** A request's inactivity timeout (reset by progress notifications). Default 60 000 ms. */
  requestTimeoutMs?: number;
  /** A request's total deadline, progress or not. Default: none. */
  maxTotalTimeoutMs?: number;
  /** How long acquire() and request() wait for a usable connection. Default 30 000 ms. */
  acquireTimeoutMs?: number;
  /** How long a start (spawn + handshake) may take before it counts as failed. Default 30 000 ms. */
  startTimeoutMs?: number;
  /** Longest stdout line accepted; longer ones are dropped and reported. Default 4 MiB. */
  maxLineBytes?: number;
  /** Stopping a process: end stdin, wait stdinGraceMs, SIGTERM the group, wait termGraceMs, SIGKILL. */
  stop?: { stdinGraceMs?: number; termGraceMs?: number };
  /** Restarts after an unexpected exit: full-jitter exponential backoff and an intensity breaker. */
  restart?: {
    initialDelayMs?: number;
    maxDelayMs?: number;
    /** Running this long without exiting resets the backoff. Default 60 000 ms. */
    resetAfterMs?: number;
    /** More than maxRestarts restarts within windowMs marks the connection failed (Erlang style). */
    maxRestarts?: number;
    windowMs?: number;
  };
  housekeeping?: {
    intervalMs?: number;
    /** Stop a connection unused this long (it restarts on demand). 0 = never. */
    idleTimeoutMs?: number;
    /** Retire a connection after this long (minus up to lifetimeVariance of it, at random). 0 = never. */
    maxLifetimeMs?: number;
    lifetimeVariance?: number;
    /** Emit 'leak' with the acquirer's stack for a lease held this long. 0 = off. */
    leakDetectionMs?: number;
    /** Force-evict a lease held this long and kill its process. 0 = off. */
    leaseTimeoutMs?: number;
    /** How often each IO worker measures the memory of process groups with spec.maxMemoryMb. */
    memoryCheckMs?: number;
    /**
     * Measure every process group's memory, not only the limited ones (snapshot's `rssBytes`;
     * `atomvisor run` turns it on for its MEM column). Default false.
     */
    measureMemory?: boolean;
  };
  env?: { allow?: string[]; inherit?: boolean };
  /** The probe worker pool (piscina) for exec/tcp/http/module health probes; started on first use. */
  probes?: {
    /** Probe worker threads. Default min(2, available cores). */
    threads?: number;
    /** Probes one worker runs at once (they are I/O bound). Default 32. */
    tasksPerThread?: number;
  };
  /** A file where this coordinator records its process groups, so the next one can reap them. */
  stateFile?: string;
}

export interface ResolvedOptions {
  capacity: number;
  ioWorkers: number;
  maxInFlight: number;
  maxQueued: number;
  maxWaiting: number;
  requestTimeoutMs: number;
  maxTotalTimeoutMs: number | undefined;
  acquireTimeoutMs: number;
  startTimeoutMs: number;
  maxLineBytes: number;
  stop: { stdinGraceMs: number; termGraceMs: number };
  restart: {
    initialDelayMs: number;
    maxDelayMs: number;
    resetAfterMs: number;
    maxRestarts: number;
    windowMs: number;
  };
  housekeeping: {
    intervalMs: number;
    idleTimeoutMs: number;
    maxLifetimeMs: number;
    lifetimeVariance: number;
    leakDetectionMs: number;
    leaseTimeoutMs: number;
    memoryCheckMs: number;
    measureMemory: boolean;
  };
  env: { allow: string[]; inherit: boolean };
  probes: { threads: number; tasksPerThread: number };
  stateFile: string | undefined;
}

const DAY = 86_400_000;

export function resolveOptions(input: unknown): ResolvedOptions {
  const o = readObject(input, 'options', [
    'capacity',
    'ioWorkers',
    'maxInFlight',
    'maxQueued',
    'maxWaiting',
    'requestTimeoutMs',
    'maxTotalTimeoutMs',
    'acquireTimeoutMs',
    'startTimeoutMs',
    'maxLineBytes',
    'stop',
    'restart',
    'housekeeping',
    'env',
    'probes',
    'stateFile',
  ]);
  const ms = (
    bag: Record<string, unknown>,
    key: string,
    field: string,
    fallback: number,
    min = 0,
  ) => readNumber(bag, key, field, { default: fallback, min, max: DAY });
  const stop = readObject(o.stop, 'options.stop', ['stdinGraceMs', 'termGraceMs']);
  const restart = readObject(o.restart, 'options.restart', [
    'initialDelayMs',
    'maxDelayMs',
    'resetAfterMs',
    'maxRestarts',
    'windowMs',
  ]);
  const hk = readObject(o.housekeeping, 'options.housekeeping', [
    'intervalMs',
    'idleTimeoutMs',
    'maxLifetimeMs',
    'lifetimeVariance',
    'leakDetectionMs',
    'leaseTimeoutMs',
    'memoryCheckMs',
    'measureMemory',
  ]);
  const env = readObject(o.env, 'options.env', ['allow', 'inherit']);
  const probes = readObject(o.probes, 'options.probes', ['threads', 'tasksPerThread']);
  const resolved: ResolvedOptions = {
    capacity: readNumber(o, 'capacity', 'options', {
      default: 256,
      min: 1,
      max: 65_536,
      integer: true,
    }),
    ioWorkers: readNumber(o, 'ioWorkers', 'options', {
      default: Math.max(1, Math.min(2, availableParallelism())),
      min: 1,
      max: 64,
      integer: true,
    }),
    maxInFlight: readNumber(o, 'maxInFlight', 'options', {
      default: 64,
      min: 1,
      max: 1_000_000,
      integer: true,
    }),
    maxQueued: readNumber(o, 'maxQueued', 'options', {
      default: 1024,
      min: 0,
      max: 1_000_000,
      integer: true,
    }),
    maxWaiting: readNumber(o, 'maxWaiting', 'options', {
      default: 1024,
      min: 0,
      max: 1_000_000,
      integer: true,
    }),
    requestTimeoutMs: ms(o, 'requestTimeoutMs', 'options', 60_000, 1),
    maxTotalTimeoutMs: readOptionalNumber(o, 'maxTotalTimeoutMs', 'options', { min: 1, max: DAY }),
    acquireTimeoutMs: ms(o, 'acquireTimeoutMs', 'options', 30_000),
    startTimeoutMs: ms(o, 'startTimeoutMs', 'options', 30_000, 1),
    maxLineBytes: readNumber(o, 'maxLineBytes', 'options', {
      default: 4 * 1024 * 1024,
      min: 1024,
      max: 1024 ** 3,
      integer: true,
    }),
    stop: {
      stdinGraceMs: ms(stop, 'stdinGraceMs', 'options.stop', 2_000),
      termGraceMs: ms(stop, 'termGraceMs', 'options.stop', 2_000),
    },
    restart: {
      initialDelayMs: ms(restart, 'initialDelayMs', 'options.restart', 100),
      maxDelayMs: ms(restart, 'maxDelayMs', 'options.restart', 30_000),
      resetAfterMs: ms(restart, 'resetAfterMs', 'options.restart', 60_000),
      maxRestarts: readNumber(restart, 'maxRestarts', 'options.restart', {
        default: 5,
        min: 0,
        max: 1_000_000,
        integer: true,
      }),
      windowMs: ms(restart, 'windowMs', 'options.restart', 60_000, 1),
    },
    housekeeping: {
      intervalMs: ms(hk, 'intervalMs', 'options.housekeeping', 1_000, 10),
      idleTimeoutMs: ms(hk, 'idleTimeoutMs', 'options.housekeeping', 0),
      maxLifetimeMs: ms(hk, 'maxLifetimeMs', 'options.housekeeping', 0),
      lifetimeVariance: readNumber(hk, 'lifetimeVariance', 'options.housekeeping', {
        default: 0.025,
        min: 0,
        max: 0.5,
      }),
      leakDetectionMs: ms(hk, 'leakDetectionMs', 'options.housekeeping', 0),
      leaseTimeoutMs: ms(hk, 'leaseTimeoutMs', 'options.housekeeping', 0),
      memoryCheckMs: ms(hk, 'memoryCheckMs', 'options.housekeeping', 1_000, 10),
      measureMemory: readBoolean(hk, 'measureMemory', 'options.housekeeping', false),
    },
    env: {
      allow: readStringArray(env, 'allow', 'options.env', DEFAULT_ENV_ALLOW),
      inherit: readBoolean(env, 'inherit', 'options.env', false),
    },
    probes: {
      threads: readNumber(probes, 'threads', 'options.probes', {
        default: Math.max(1, Math.min(2, availableParallelism())),
        min: 1,
        max: 64,
        integer: true,
      }),
      tasksPerThread: readNumber(probes, 'tasksPerThread', 'options.probes', {
        default: 32,
        min: 1,
        max: 1024,
        integer: true,
      }),
    },
    stateFile: readString(o, 'stateFile', 'options', { nonEmpty: true }),
  };
  if (resolved.restart.maxDelayMs < resolved.restart.initialDelayMs) {
    throw new InvalidArgumentError(
      'options.restart.maxDelayMs',
      'must be ≥ options.restart.initialDelayMs',
    );
  }
  return resolved;
}
