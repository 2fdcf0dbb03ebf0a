/**
 * The coordinator's IO workers: N worker threads (workers/io-worker), each an IoHost. Slots are
 * sharded across them (slot % N), so a child is owned by exactly one worker for its whole life.
 *
 * Each worker has a data plane of its own, two FrameRings (src/io/frames.ts): `send` puts a
 * message for a server into the ring to its worker, and everything the worker reports (the
 * servers' messages, stderr lines, events) reaches `onFrame` from the ring back, drained whole on
 * every wake-up. The rare control calls (spawn, stop, pids) go through comlink (`call`).
 *
 * A worker that dies takes its pending calls with it; comlink would leave them pending for ever, so
 * every call here races the worker's death and rejects with ConnectionLostError. Its rings die
 * with it: the frames it published before it died are read (a frame is visible only once whole,
 * so none is half-read), then both rings are closed and never reused. The pool starts a
 * replacement worker with new rings and tells the coordinator which slots lost their owner
 * (`onDeath`), so it can fail their pending requests, kill those process groups and restart them.
 */
import type { Worker } from 'node:worker_threads';
import { ClosedError, ConnectionLostError } from '../errors.ts';
import { FrameKind, FrameReceiver, FrameSender, type MessageHandler } from '../io/frames.ts';
import type { IoHost } from '../io/io-host.ts';
import { Comlink, installErrorTransfer, nodeEndpoint } from '../io/wire.ts';
import { FrameRing } from '../shm/frame-ring.ts';
import { spawnWorker, workerEntry } from '../spawn-worker.ts';
import type { SlotTableHandle } from '../table/slot-table.ts';

const ENTRY = workerEntry(import.meta.url, '../../workers/io-worker');

/** Bytes in each ring of a worker's data plane. */
const RING_BYTES = 1024 * 1024;

interface Member {
  index: number;
  worker: Worker;
  host: Comlink.Remote<IoHost>;
  toWorker: FrameRing;
  sender: FrameSender;
  fromWorker: FrameRing;
  receiver: FrameReceiver;
  /** Rejects when this worker dies; every call races it. */
  death: Promise<never>;
  threadId: number;
}

export class IoPool {
  readonly size: number;
  /** Messages sent to servers so far (a chunked one counts once). */
  framesSent = 0;
  readonly #table: SlotTableHandle;
  readonly #onFrame: MessageHandler;
  readonly #onDeath: (workerIndex: number, error: unknown) => void;
  readonly #members: (Member | undefined)[];
  /** A replacement worker being started, per index. */
  readonly #restarting: (Promise<void> | undefined)[];
  #closed = false;

  constructor(
    size: number,
    table: SlotTableHandle,
    onFrame: MessageHandler,
    onDeath: (workerIndex: number, error: unknown) => void,
  ) {
    installErrorTransfer();
    this.size = size;
    this.#table = table;
    this.#onFrame = onFrame;
    this.#onDeath = onDeath;
    this.#members = new Array(size).fill(undefined);
    this.#restarting = new Array(size).fill(undefined);
  }

  async start(): Promise<void> {
    await Promise.all(this.#members.map((_, index) => this.#startMember(index)));
  }

  /** Which worker owns `slot`. */
  indexOf(slot: number): number {
    return slot % this.size;
  }

  threadIds(): number[] {
    return this.#members.map((m) => m?.threadId ?? -1);
  }

  /**
   * Send one message (JSON text) to the server of (`slot`, `generation`). Never waits: it goes
   * into the ring, or queues behind it until there is room. False when the slot's worker is dead
   * (its processes are too; the coordinator hears of it through onDeath).
   */
  send(slot: number, generation: number, text: string): boolean {
    const member = this.#members[this.indexOf(slot)];
    if (member === undefined) return false;
    this.framesSent++;
    member.sender.sendText(FrameKind.MESSAGE, slot, generation, text);
    member.receiver.poke(); // its answer comes back through this member's ring
    return true;
  }

  /** Data-plane counts of the live workers' rings, this side's: to them and from them. */
  ringCounts(): { toWorkers: FrameRing['counts']; fromWorkers: FrameRing['counts'] } {
    const sum = (pick: (m: Member) => FrameRing['counts']) => {
      const out = { publishes: 0, wakeups: 0, reads: 0, frames: 0, parks: 0 };
      for (const m of this.#members) {
        if (m === undefined) continue;
        const c = pick(m);
        out.publishes += c.publishes;
        out.wakeups += c.wakeups;
        out.reads += c.reads;
        out.frames += c.frames;
        out.parks += c.parks;
      }
      return out;
    };
    return {
      toWorkers: sum((m) => m.toWorker.counts),
      fromWorkers: sum((m) => m.fromWorker.counts),
    };
  }

  /** Read what the worker owning `slot` has published so far, now (e.g. after a stop returned). */
  drain(slot: number): void {
    this.#members[this.indexOf(slot)]?.receiver.drain();
  }

  /** Run `call` against the IoHost that owns `slot`, failing fast if that worker dies. */
  async call<T>(slot: number, call: (host: Comlink.Remote<IoHost>) => Promise<T>): Promise<T> {
    if (this.#closed) throw new ClosedError('the coordinator');
    const index = this.indexOf(slot);
    if (this.#members[index] === undefined) await this.#restarting[index];
    const member = this.#members[index];
    if (member === undefined)
      throw new ConnectionLostError(null, null, 'its IO worker could not be restarted');
    return Promise.race([call(member.host), member.death]);
  }

  /** Test hook and last resort: terminate one worker as if it had crashed. */
  async crash(index: number): Promise<void> {
    await this.#members[index]?.worker.terminate();
  }

  async close(): Promise<void> {
    this.#closed = true;
    const members = this.#members.splice(0, this.#members.length);
    await Promise.all(
      members.map(async (member) => {
        if (member === undefined) return;
        member.host[Comlink.releaseProxy]();
        await member.worker.terminate();
        this.#retire(member);
      }),
    );
  }

  /** A worker is gone: read what it published before it went, then close its rings for good. */
  #retire(member: Member): void {
    member.receiver.drain();
    member.toWorker.close();
    member.fromWorker.close();
  }

  async #startMember(index: number): Promise<void> {
    const toWorker = FrameRing.create(RING_BYTES);
    const fromWorker = FrameRing.create(RING_BYTES);
    const worker = spawnWorker(ENTRY, {
      table: this.#table,
      rings: { toWorker: toWorker.handle, toCoordinator: fromWorker.handle },
    });
    let fail: (error: unknown) => void = () => {};
    const death = new Promise<never>((_, reject) => {
      fail = reject;
    });
    death.catch(() => {}); // observed by racing callers; never an unhandled rejection
    const ready = new Promise<void>((resolve, reject) => {
      worker.on('message', (message: { ioReady?: boolean }) => {
        if (message?.ioReady) resolve();
      });
      worker.once('error', reject);
      worker.once('exit', (code) =>
        reject(new Error(`IO worker exited with code ${code} while starting`)),
      );
    });
    const member: Member = {
      index,
      worker,
      host: Comlink.wrap<IoHost>(nodeEndpoint(worker)),
      toWorker,
      sender: new FrameSender(toWorker),
      fromWorker,
      receiver: new FrameReceiver(fromWorker, this.#onFrame),
      death,
      threadId: worker.threadId,
    };
    this.#members[index] = member;
    worker.on('error', (error) => fail(error));
    void member.receiver.run();
    worker.once('exit', (code) => {
      const error = new ConnectionLostError(null, null, `its IO worker exited (code ${code})`);
      fail(error);
      if (this.#closed || this.#members[index] !== member) return;
      this.#members[index] = undefined;
      this.#retire(member);
      const restart = this.#startMember(index).catch(() => {});
      this.#restarting[index] = restart.finally(() => {
        this.#restarting[index] = undefined;
      });
      this.#onDeath(index, error);
    });
    await ready;
  }
}
