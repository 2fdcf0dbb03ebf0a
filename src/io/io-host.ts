/**
 * IoHost: what runs inside an IO worker. It owns child processes — one per slot it was given —
 * and everything that touches their stdio: spawning (no shell, own process group), framing, the
 * syscalls, and stopping with escalation. It does not interpret what the servers say.
 *
 * Two paths connect it to the coordinator:
 * - the data plane, two FrameRings (src/io/frames.ts). Every message for a server arrives as a
 *   MESSAGE frame tagged with slot and generation and is written to that server's stdin with the
 *   protocol's framing; all the frames for one server that arrive together go out in one `write`.
 *   Every message a server writes goes back as the bytes it wrote (a MESSAGE frame), and so do
 *   stderr lines and this host's own events (exit, protocol problems, memory): one ordered stream
 *   per worker, so a response written before an exit is always read before that exit.
 * - the control plane (comlink, workers/io-worker.ts) for the rare calls: spawn, stop, pids.
 *
 * Every frame and call names the slot *and* the generation it means: one for a process that has
 * since been replaced is dropped (frames) or fails with NotRunningError (calls), never reaching
 * the new process.
 *
 * Back-pressure both ways, so a stuck peer cannot grow memory without bound:
 * - a server that does not read its stdin: once more than STDIN_HIGH_WATER bytes wait for it, a
 *   `stdin` event says so and the coordinator stops sending it requests (they queue there,
 *   bounded by maxQueued) until the pipe drains;
 * - a coordinator that does not keep up: once OUT_HIGH_WATER bytes wait for room in the ring, this
 *   host stops reading its servers' stdout and stderr until that backlog is gone.
 */
import type { ChildProcess } from 'node:child_process';
import { constants } from 'node:os';
import { NotRunningError, SpawnError } from '../errors.ts';
import { FrameRing, type FrameRingHandle } from '../shm/frame-ring.ts';
import { SlotTable, type SlotTableHandle } from '../table/slot-table.ts';
import { encodeContentLengthHeader } from './content-length-header.ts';
import { FrameKind, FrameSender } from './frames.ts';
import { createFrameDecoder, type FrameDecoder, type FramingProtocol } from './framing.ts';
import { LineFramer } from './line-decoder.ts';
import { groupMemory, type MemoryBreach } from './memory.ts';
import {
  type ExitInfo,
  type StopStage,
  signalGroup,
  spawnInGroup,
  stopGroup,
} from './process-group.ts';

/** The two rings of one IO worker's data plane. */
export interface DataPlaneHandles {
  /** coordinator → worker: messages for the servers. */
  toWorker: FrameRingHandle;
  /** worker → coordinator: the servers' messages, stderr lines, events. */
  toCoordinator: FrameRingHandle;
}

export interface SpawnOrder {
  slot: number;
  generation: number;
  command: string;
  args: string[];
  cwd: string | undefined;
  env: Record<string, string>;
  /**
   * How messages are framed on stdin and stdout: newline JSON-RPC, LSP's Content-Length headers,
   * or none (stdout lines become STDOUT frames; nothing is written to stdin).
   */
  protocol: FramingProtocol;
  maxLineBytes: number;
  /** Report the process group once its resident memory exceeds this (spec.maxMemoryMb). */
  maxMemoryBytes: number | undefined;
  /** Measure the group's memory even without a limit (options.housekeeping.measureMemory). */
  measureMemory: boolean;
  /** How often to measure it (options.housekeeping.memoryCheckMs). */
  memoryCheckMs: number;
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
  | {
      type: 'protocol';
      slot: number;
      generation: number;
      problem: 'invalid' | 'oversized' | 'truncated';
      detail: string;
    }
  /** More than STDIN_HIGH_WATER bytes wait for the server to read them (or, later, no longer). */
  | { type: 'stdin'; slot: number; generation: number; blocked: boolean }
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
/** Bytes queued for a server's stdin beyond which the coordinator is told to hold its requests. */
export const STDIN_HIGH_WATER = 1024 * 1024;
/** Bytes waiting for room in the ring to the coordinator beyond which reading the servers pauses. */
const OUT_HIGH_WATER = 8 * 1024 * 1024;
const NEWLINE = Buffer.from('\n');

interface Connection {
  slot: number;
  generation: number;
  pid: number;
  child: ChildProcess;
  protocol: FramingProtocol;
  decoder: FrameDecoder;
  stderr: LineFramer;
  stderrTail: string[];
  exit: Promise<ExitInfo>;
  /** Resolves once this process's exit event is in the ring. */
  reported: Promise<void>;
  /** spec.maxMemoryMb in bytes; undefined once reported (once per process) or when unlimited. */
  maxMemoryBytes: number | undefined;
  /** Sampled every check (a limit, or options.housekeeping.measureMemory). */
  measureMemory: boolean;
  /** The group's CPU ticks at the previous check, and when (performance.now ms). */
  lastCpu: { ticks: number; at: number } | undefined;
  /** Chunks of a message for stdin that has more to come (copies: the ring reuses its space). */
  partial: Buffer[] | undefined;
  /** What goes to stdin at the end of this batch of frames: bodies (views into the ring), framing. */
  outgoing: Buffer[];
  /** The coordinator was told that this stdin backs up (STDIN_HIGH_WATER). */
  stdinBlocked: boolean;
}

export class IoHost {
  readonly #table: SlotTable;
  readonly #out: FrameSender;
  readonly #inbox: FrameRing;
  readonly #connections = new Map<number, Connection>();
  /** Connections with something to write at the end of the current batch of frames. */
  readonly #touched: Connection[] = [];
  #inboxPollQueued = false;
  /** Reading the servers' output is paused while the ring to the coordinator backs up. */
  #readingPaused = false;
  /** Measures the groups of connections with a memory limit; runs only while there is one. */
  #memoryTimer: NodeJS.Timeout | undefined;

  constructor(table: SlotTableHandle, rings: DataPlaneHandles) {
    this.#table = SlotTable.from(table);
    this.#out = new FrameSender(FrameRing.from(rings.toCoordinator), {
      onDrained: () => this.#resumeReading(),
    });
    this.#inbox = FrameRing.from(rings.toWorker);
    void this.#readInbox();
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
    const out = this.#out;
    const stderrTail: string[] = [];
    const kind = order.protocol === 'none' ? FrameKind.STDOUT : FrameKind.MESSAGE;
    const decoder = createFrameDecoder(
      order.protocol,
      (message) => {
        out.sendBytes(kind, slot, generation, message);
        this.#checkBacklog();
      },
      {
        maxMessageBytes: order.maxLineBytes,
        onProblem: (problem, detail) =>
          this.#emit({ type: 'protocol', slot, generation, problem, detail }),
      },
    );
    const stderr = new LineFramer(
      (line) => {
        stderrTail.push(line.toString('utf8'));
        if (stderrTail.length > STDERR_TAIL) stderrTail.shift();
        out.sendBytes(FrameKind.STDERR, slot, generation, line);
        this.#checkBacklog();
      },
      { maxLineBytes: 64 * 1024 },
    );
    let reported: () => void = () => {};
    const connection: Connection = {
      slot,
      generation,
      pid,
      child,
      protocol: order.protocol,
      decoder,
      stderr,
      stderrTail,
      maxMemoryBytes: order.maxMemoryBytes,
      measureMemory: order.measureMemory || order.maxMemoryBytes !== undefined,
      lastCpu: undefined,
      partial: undefined,
      outgoing: [],
      stdinBlocked: false,
      reported: new Promise<void>((resolve) => {
        reported = resolve;
      }),
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
    child.stdout?.on('data', (chunk: Buffer) => {
      decoder.feed(chunk);
      this.#pokeInbox(); // the coordinator will answer with more for it: read that this turn
    });
    child.stderr?.on('data', (chunk: Buffer) => stderr.feed(chunk));
    child.stdout?.on('error', () => {});
    child.stderr?.on('error', () => {});
    if (this.#readingPaused) {
      child.stdout?.pause();
      child.stderr?.pause();
    }
    void connection.exit.then((info) => {
      this.#onExit(connection, info);
      reported();
    });
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
    const stopped = await stopGroup(connection.child, grace);
    // Reply only once the exit event is in the ring: the coordinator drains the ring when this
    // call returns, so by then it has the process's last messages and its exit.
    await connection.reported;
    this.#out.flush();
    return stopped;
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

  stats(): { connections: number; stdinBlocked: number; readingPaused: boolean } {
    let stdinBlocked = 0;
    for (const c of this.#connections.values()) if (c.stdinBlocked) stdinBlocked++;
    return {
      connections: this.#connections.size,
      stdinBlocked,
      readingPaused: this.#readingPaused,
    };
  }

  #emit(event: IoEvent): void {
    const slot = 'slot' in event ? event.slot : -1;
    const generation = 'generation' in event ? event.generation : -1;
    this.#out.sendText(FrameKind.EVENT, slot, generation, JSON.stringify(event));
  }

  // ---- coordinator → servers ---------------------------------------------------------------

  /** This thread is busy anyway: read the inbox at the end of this turn rather than be woken. */
  #pokeInbox(): void {
    if (this.#inboxPollQueued) return;
    this.#inboxPollQueued = true;
    this.#inbox.stayAwake();
    setImmediate(this.#pollInbox);
  }

  readonly #pollInbox = (): void => {
    this.#inboxPollQueued = false;
    do this.#inbox.read(this.#visitInbox, this.#writeOutgoing);
    while (!this.#inbox.sleepIfEmpty());
  };

  async #readInbox(): Promise<void> {
    const inbox = this.#inbox;
    for (;;) {
      inbox.read(this.#visitInbox, this.#writeOutgoing);
      if (inbox.closed) return;
      const wait = inbox.waitForData();
      if (wait !== undefined) await wait;
    }
  }

  /** One frame from the coordinator: queue it, framed, for its server's stdin. */
  readonly #visitInbox = (
    kind: number,
    slot: number,
    generation: number,
    more: boolean,
    data: Buffer,
    start: number,
    end: number,
  ): void => {
    const c = this.#connections.get(slot);
    // For a process that is gone: the coordinator learns that from its exit event.
    if (kind !== FrameKind.MESSAGE || c === undefined || c.generation !== generation) return;
    if (more || c.partial !== undefined) {
      c.partial ??= [];
      c.partial.push(Buffer.from(data.subarray(start, end)));
      if (more) return;
      const whole = Buffer.concat(c.partial);
      c.partial = undefined;
      this.#frame(c, whole);
    } else {
      this.#frame(c, data.subarray(start, end));
    }
  };

  /** Add one message, with its protocol's framing, to what `c` gets at the end of this batch. */
  #frame(c: Connection, body: Buffer): void {
    if (c.protocol === 'none') return; // nothing speaks on its stdin (the coordinator refuses)
    if (c.outgoing.length === 0) this.#touched.push(c);
    if (c.protocol === 'lsp') c.outgoing.push(encodeContentLengthHeader(body.length), body);
    else c.outgoing.push(body, NEWLINE);
  }

  /** End of a batch of frames: one write per server, copied out of the ring before it is reused. */
  readonly #writeOutgoing = (): void => {
    for (const c of this.#touched) {
      const bytes = Buffer.concat(c.outgoing);
      c.outgoing.length = 0;
      const stdin = c.child.stdin;
      if (stdin === null || stdin.destroyed) continue;
      stdin.write(bytes);
      if (!c.stdinBlocked && stdin.writableLength > STDIN_HIGH_WATER) {
        c.stdinBlocked = true;
        this.#emit({ type: 'stdin', slot: c.slot, generation: c.generation, blocked: true });
        stdin.once('drain', () => {
          c.stdinBlocked = false;
          if (this.#connections.get(c.slot) === c)
            this.#emit({ type: 'stdin', slot: c.slot, generation: c.generation, blocked: false });
        });
      }
    }
    this.#touched.length = 0;
  };

  // ---- servers → coordinator ---------------------------------------------------------------

  /** The ring to the coordinator backs up: stop reading the servers until it drains. */
  #checkBacklog(): void {
    if (this.#readingPaused || this.#out.backlogBytes <= OUT_HIGH_WATER) return;
    this.#readingPaused = true;
    for (const c of this.#connections.values()) {
      c.child.stdout?.pause();
      c.child.stderr?.pause();
    }
  }

  #resumeReading(): void {
    if (!this.#readingPaused) return;
    this.#readingPaused = false;
    for (const c of this.#connections.values()) {
      c.child.stdout?.resume();
      c.child.stderr?.resume();
    }
  }

  #onExit(connection: Connection, info: ExitInfo): void {
    const { slot, generation, pid } = connection;
    connection.decoder.end();
    connection.stderr.end();
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
