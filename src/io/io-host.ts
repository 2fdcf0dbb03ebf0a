/**
 * IoHost: what runs inside an IO worker. It owns child processes — one per slot it was given —
 * and everything that touches their stdio: spawning (no shell, own process group), line framing,
 * JSON-RPC correlation (RequestTracker), timeouts and cancellation, and stopping with escalation.
 *
 * The coordinator calls it through comlink (workers/io-worker.ts); it reports what happens on its
 * own (exits, server notifications, protocol problems, stderr) as `IoEvent`s through `emit`.
 *
 * Every call names the slot *and* the generation it means: a call for a process that has since
 * been replaced fails with NotRunningError instead of reaching the new process.
 */
import type { ChildProcess } from 'node:child_process';
import { constants } from 'node:os';
import { ConnectionLostError, NotRunningError, SpawnError } from '../errors.ts';
import { SlotTable, type SlotTableHandle } from '../table/slot-table.ts';
import { classify, encodeErrorResponse, JsonRpcErrorCode, type JsonRpcParams } from './jsonrpc.ts';
import { LineDecoder } from './line-decoder.ts';
import { groupMemory, type MemoryBreach } from './memory.ts';
import {
  type ExitInfo,
  type StopStage,
  signalGroup,
  spawnInGroup,
  stopGroup,
} from './process-group.ts';
import { PROGRESS_METHOD, RequestTracker } from './request-tracker.ts';

export interface SpawnOrder {
  slot: number;
  generation: number;
  command: string;
  args: string[];
  cwd: string | undefined;
  env: Record<string, string>;
  maxInFlight: number;
  maxQueued: number;
  maxLineBytes: number;
  requestTimeoutMs: number;
  maxTotalTimeoutMs: number | undefined;
  /** Report the process group once its resident memory exceeds this (spec.maxMemoryMb). */
  maxMemoryBytes: number | undefined;
  /** Measure the group's memory even without a limit (options.housekeeping.measureMemory). */
  measureMemory: boolean;
  /** How often to measure it (options.housekeeping.memoryCheckMs). */
  memoryCheckMs: number;
}

export interface CallOptions {
  timeoutMs?: number | undefined;
  totalTimeoutMs?: number | undefined;
  progressToken?: string | number | undefined;
  /** Lets the caller cancel() this call later, and routes progress events to it. */
  callId?: number | undefined;
}

export type IoEvent =
  | {
      type: 'exit';
      slot: number;
      generation: number;
      pid: number;
      code: number | null;
      signal: string | null;
      stderrTail: string[];
    }
  | { type: 'notification'; slot: number; generation: number; method: string; params: unknown }
  | { type: 'progress'; callId: number; params: unknown }
  | { type: 'server-request'; slot: number; generation: number; method: string }
  | {
      type: 'protocol';
      slot: number;
      generation: number;
      problem: 'invalid' | 'oversized' | 'truncated';
      detail: string;
    }
  | { type: 'stderr'; slot: number; generation: number; line: string }
  | ({ type: 'memory' } & MemoryBreach)
  /** Every measured group's memory and CPU use, once per check (internal: not a public event). */
  | { type: 'memory-sample'; samples: UsageSample[] };

export interface UsageSample {
  slot: number;
  generation: number;
  rssBytes: number;
  /** CPU use since the previous check, % of one core; undefined on the first check. */
  cpuPercent: number | undefined;
}

/** Clock ticks per second in /proc/PID/stat (USER_HZ: fixed at 100 in Linux's user ABI). */
const USER_HZ = 100;

const STDERR_TAIL = 20;
/** After 'exit', how long to keep reading stdout for replies written just before it. */
const EXIT_DRAIN_MS = 100;

interface Connection {
  slot: number;
  generation: number;
  pid: number;
  child: ChildProcess;
  tracker: RequestTracker;
  decoder: LineDecoder;
  stderr: LineDecoder;
  stderrTail: string[];
  exit: Promise<ExitInfo>;
  /** spec.maxMemoryMb in bytes; undefined once reported (once per process) or when unlimited. */
  maxMemoryBytes: number | undefined;
  /** Sampled every check (a limit, or options.housekeeping.measureMemory). */
  measureMemory: boolean;
  /** The group's CPU ticks at the previous check, and when (performance.now ms). */
  lastCpu: { ticks: number; at: number } | undefined;
}

export class IoHost {
  readonly #table: SlotTable;
  readonly #emit: (event: IoEvent) => void;
  readonly #connections = new Map<number, Connection>();
  readonly #calls = new Map<number, AbortController>();
  /** Measures the groups of connections with a memory limit; runs only while there is one. */
  #memoryTimer: NodeJS.Timeout | undefined;

  constructor(table: SlotTableHandle, emit: (event: IoEvent) => void) {
    this.#table = SlotTable.from(table);
    this.#emit = emit;
  }

  /** Start the process for `order.slot`. Resolves once it is running (its pid is in the table). */
  async spawn(order: SpawnOrder): Promise<{ pid: number }> {
    const previous = this.#connections.get(order.slot);
    if (previous !== undefined) {
      // A process that has exited stays here while its last replies drain from stdout (up to
      // EXIT_DRAIN_MS when a grandchild holds the pipe). A restart right after a stop meets it:
      // let it finish, so its exit is reported before the new process exists.
      const exited = previous.child.exitCode !== null || previous.child.signalCode !== null;
      if (exited && previous.generation < order.generation) await previous.exit;
      if (this.#connections.has(order.slot)) {
        throw new NotRunningError(`slot ${order.slot} already has a process; stop it first`);
      }
    }
    let child: ChildProcess;
    try {
      child = spawnInGroup(order);
    } catch (error) {
      throw new SpawnError(order.command, (error as Error).message);
    }
    // A pid is set only when the spawn syscall succeeded ('spawn' follows). Publish it before
    // awaiting anything: if this worker dies in between, the coordinator still finds the process
    // in the table (pid, exit = -1) and kills its group instead of leaving an orphan.
    if (child.pid !== undefined)
      this.#table.publish(order.slot, { pid: child.pid, startedAt: this.#table.now(), exit: -1 });
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', (error: NodeJS.ErrnoException) => {
        reject(new SpawnError(order.command, `${error.code ?? 'error'}: ${error.message}`));
      });
    });
    const pid = child.pid as number;
    const { slot, generation } = order;
    const tracker = new RequestTracker({
      write: (line) => {
        child.stdin?.write(line);
      },
      maxInFlight: order.maxInFlight,
      maxQueued: order.maxQueued,
      timeoutMs: order.requestTimeoutMs,
      ...(order.maxTotalTimeoutMs === undefined ? {} : { totalTimeoutMs: order.maxTotalTimeoutMs }),
    });
    const stderrTail: string[] = [];
    const decoder = new LineDecoder((line) => this.#onLine(connection, line), {
      maxLineBytes: order.maxLineBytes,
      onOversized: (bytes) =>
        this.#emit({
          type: 'protocol',
          slot,
          generation,
          problem: 'oversized',
          detail: `a ${bytes}-byte line was dropped`,
        }),
      onTruncated: (bytes) =>
        this.#emit({
          type: 'protocol',
          slot,
          generation,
          problem: 'truncated',
          detail: `${bytes} bytes without a final newline`,
        }),
    });
    const stderr = new LineDecoder(
      (line) => {
        stderrTail.push(line);
        if (stderrTail.length > STDERR_TAIL) stderrTail.shift();
        this.#emit({ type: 'stderr', slot, generation, line });
      },
      { maxLineBytes: 64 * 1024 },
    );
    const connection: Connection = {
      slot,
      generation,
      pid,
      child,
      tracker,
      decoder,
      stderr,
      stderrTail,
      maxMemoryBytes: order.maxMemoryBytes,
      measureMemory: order.measureMemory || order.maxMemoryBytes !== undefined,
      lastCpu: undefined,
      exit: new Promise((resolve) =>
        child.once('exit', (code, signal) => {
          // Replies the process wrote just before exiting may still be in the pipe: read them
          // first. But never wait on 'close': a grandchild holding stdout can delay it for ever.
          const settle = () => resolve({ code, signal });
          if (child.stdout === null || child.stdout.readableEnded) return settle();
          const grace = setTimeout(settle, EXIT_DRAIN_MS);
          child.stdout.once('end', () => {
            clearTimeout(grace);
            settle();
          });
        }),
      ),
    };
    this.#connections.set(slot, connection);
    child.stdin?.on('error', () => {}); // EPIPE after the child died: the 'exit' path reports it
    child.stdout?.on('data', (chunk: Buffer) => decoder.feed(chunk));
    child.stderr?.on('data', (chunk: Buffer) => stderr.feed(chunk));
    child.stdout?.on('error', () => {});
    child.stderr?.on('error', () => {});
    void connection.exit.then((info) => this.#onExit(connection, info));
    if (connection.measureMemory) this.#watchMemory(order.memoryCheckMs);
    return { pid };
  }

  #watchMemory(everyMs: number): void {
    if (this.#memoryTimer !== undefined) return;
    this.#memoryTimer = setInterval(() => this.#checkMemory(), everyMs);
    this.#memoryTimer.unref();
  }

  /**
   * One measurement of every measured group (one /proc scan): a sample of them all for the
   * coordinator, and each limit breach, reported once per process.
   */
  #checkMemory(): void {
    const measured = [...this.#connections.values()].filter((c) => c.measureMemory);
    if (measured.length === 0) {
      clearInterval(this.#memoryTimer);
      this.#memoryTimer = undefined;
      return;
    }
    const groups = groupMemory(measured.map((c) => c.pid));
    const now = performance.now();
    const samples: UsageSample[] = [];
    const breaches: MemoryBreach[] = [];
    for (const c of measured) {
      const group = groups.get(c.pid);
      if (group === undefined) continue;
      const last = c.lastCpu;
      // A member that exited takes its ticks with it: never report less than nothing.
      const cpuPercent =
        last === undefined || now <= last.at
          ? undefined
          : Math.max(0, (((group.cpuTicks - last.ticks) / USER_HZ) * 100_000) / (now - last.at));
      c.lastCpu = { ticks: group.cpuTicks, at: now };
      const { slot, generation, pid } = c;
      samples.push({ slot, generation, rssBytes: group.rssBytes, cpuPercent });
      const limitBytes = c.maxMemoryBytes;
      if (limitBytes === undefined || group.rssBytes <= limitBytes) continue;
      c.maxMemoryBytes = undefined; // the coordinator retires it; say so once
      breaches.push({
        slot,
        generation,
        pid,
        rssBytes: group.rssBytes,
        members: group.members,
        limitBytes,
      });
    }
    if (samples.length > 0) this.#emit({ type: 'memory-sample', samples });
    for (const breach of breaches) this.#emit({ type: 'memory', ...breach });
  }

  /** Send a request on `slot`'s process of `generation`; resolves with the result. */
  async request(
    slot: number,
    generation: number,
    method: string,
    params: unknown,
    options: CallOptions = {},
  ): Promise<unknown> {
    const connection = this.#connection(slot, generation);
    const controller = options.callId === undefined ? undefined : new AbortController();
    if (controller !== undefined) this.#calls.set(options.callId as number, controller);
    try {
      const started = connection.tracker.start(method, params as JsonRpcParams, {
        ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
        ...(options.totalTimeoutMs === undefined ? {} : { totalTimeoutMs: options.totalTimeoutMs }),
        ...(options.progressToken === undefined ? {} : { progressToken: options.progressToken }),
        ...(controller === undefined ? {} : { signal: controller.signal }),
        ...(options.callId === undefined
          ? {}
          : {
              onProgress: (p: Record<string, unknown>) =>
                this.#emit({ type: 'progress', callId: options.callId as number, params: p }),
            }),
      });
      return await started.promise;
    } finally {
      if (options.callId !== undefined) this.#calls.delete(options.callId);
    }
  }

  /** Send a notification (no reply expected). */
  notify(slot: number, generation: number, method: string, params?: unknown): void {
    const connection = this.#connection(slot, generation);
    connection.child.stdin?.write(
      `${JSON.stringify({ jsonrpc: '2.0', method, ...(params === undefined ? {} : { params }) })}\n`,
    );
  }

  /** Give up a call started with `callId`: it rejects with `reason` and the server is told. */
  cancel(callId: number, reason: unknown): void {
    this.#calls.get(callId)?.abort(reason);
  }

  /** Stop `slot`'s process (escalating) and wait until it and its group are gone. */
  async stop(
    slot: number,
    generation: number,
    grace: { stdinGraceMs: number; termGraceMs: number },
  ): Promise<ExitInfo & { stage: StopStage }> {
    const connection = this.#connections.get(slot);
    if (connection === undefined || connection.generation !== generation) {
      return { code: null, signal: null, stage: 'already-exited' };
    }
    return stopGroup(connection.child, grace);
  }

  /** Stop every process this host owns, all at once. */
  async stopAll(grace: { stdinGraceMs: number; termGraceMs: number }): Promise<number> {
    const all = [...this.#connections.values()];
    await Promise.all(all.map((c) => stopGroup(c.child, grace)));
    return all.length;
  }

  /** Is `slot` running a process of `generation`? */
  alive(slot: number, generation: number): boolean {
    const connection = this.#connections.get(slot);
    return (
      connection !== undefined &&
      connection.generation === generation &&
      connection.child.exitCode === null &&
      connection.child.signalCode === null
    );
  }

  /** The pids this host owns right now. */
  pids(): number[] {
    return [...this.#connections.values()].map((c) => c.pid);
  }

  stats(): { connections: number; inFlight: number; queued: number } {
    let inFlight = 0;
    let queued = 0;
    for (const c of this.#connections.values()) {
      inFlight += c.tracker.stats.inFlight;
      queued += c.tracker.stats.queued;
    }
    return { connections: this.#connections.size, inFlight, queued };
  }

  #connection(slot: number, generation: number): Connection {
    const connection = this.#connections.get(slot);
    if (connection === undefined || connection.generation !== generation) {
      throw new NotRunningError(`the process of slot ${slot} (generation ${generation})`);
    }
    return connection;
  }

  #onLine(connection: Connection, line: string): void {
    const { slot, generation } = connection;
    const message = classify(line);
    switch (message.kind) {
      case 'invalid':
        this.#emit({
          type: 'protocol',
          slot,
          generation,
          problem: 'invalid',
          detail: message.reason,
        });
        return;
      case 'request':
        // Server-to-client requests (MCP sampling, roots, ...) are not offered: answer at once so
        // the server does not wait for ever.
        connection.child.stdin?.write(
          encodeErrorResponse(message.id, {
            code: JsonRpcErrorCode.MethodNotFound,
            message: `${message.method} is not supported by this client`,
          }),
        );
        this.#emit({ type: 'server-request', slot, generation, method: message.method });
        return;
      case 'notification':
        if (connection.tracker.handle(message) === 'progress') return;
        if (message.method !== PROGRESS_METHOD) {
          this.#emit({
            type: 'notification',
            slot,
            generation,
            method: message.method,
            params: message.params,
          });
        }
        return;
      default:
        connection.tracker.handle(message);
    }
  }

  #onExit(connection: Connection, info: ExitInfo): void {
    const { slot, generation, pid } = connection;
    connection.decoder.end();
    connection.stderr.end();
    connection.tracker.close(new ConnectionLostError(info.code, info.signal));
    // Whatever the leader left in its process group is orphaned now.
    signalGroup(pid, 'SIGKILL');
    this.#connections.delete(slot);
    this.#table.publish(slot, {
      exit: info.signal === null ? (info.code ?? -1) : 1000 + signalNumber(info.signal),
    });
    this.#emit({
      type: 'exit',
      slot,
      generation,
      pid,
      code: info.code,
      signal: info.signal,
      stderrTail: [...connection.stderrTail],
    });
  }
}

function signalNumber(signal: string): number {
  const n = constants.signals[signal as keyof typeof constants.signals];
  return typeof n === 'number' ? n : 0;
}
