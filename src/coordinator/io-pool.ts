/**
 * The coordinator's IO workers: N worker threads (workers/io-worker), each an IoHost reached
 * through comlink. Slots are sharded across them (slot % N), so a child is owned by exactly one
 * worker for its whole life.
 *
 * A worker that dies takes its pending calls with it; comlink would leave them pending for ever, so
 * every call here races the worker's death and rejects with ConnectionLostError. The pool then
 * starts a replacement worker and tells the coordinator which slots lost their owner (`onDeath`),
 * so it can kill those process groups and restart the connections.
 */
import type { Worker } from 'node:worker_threads';
import { ClosedError, ConnectionLostError } from '../errors.ts';
import type { IoEvent, IoHost } from '../io/io-host.ts';
import { Comlink, installErrorTransfer, nodeEndpoint } from '../io/wire.ts';
import { spawnWorker, workerEntry } from '../spawn-worker.ts';
import type { SlotTableHandle } from '../table/slot-table.ts';

const ENTRY = workerEntry(import.meta.url, '../../workers/io-worker');

interface Member {
  index: number;
  worker: Worker;
  host: Comlink.Remote<IoHost>;
  /** Rejects when this worker dies; every call races it. */
  death: Promise<never>;
  threadId: number;
}

export class IoPool {
  readonly size: number;
  readonly #table: SlotTableHandle;
  readonly #onEvent: (event: IoEvent) => void;
  readonly #onDeath: (workerIndex: number, error: unknown) => void;
  readonly #members: (Member | undefined)[];
  /** A replacement worker being started, per index. */
  readonly #restarting: (Promise<void> | undefined)[];
  #closed = false;

  constructor(
    size: number,
    table: SlotTableHandle,
    onEvent: (event: IoEvent) => void,
    onDeath: (workerIndex: number, error: unknown) => void,
  ) {
    installErrorTransfer();
    this.size = size;
    this.#table = table;
    this.#onEvent = onEvent;
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
      }),
    );
  }

  async #startMember(index: number): Promise<void> {
    const worker = spawnWorker(ENTRY, { table: this.#table });
    let fail: (error: unknown) => void = () => {};
    const death = new Promise<never>((_, reject) => {
      fail = reject;
    });
    death.catch(() => {}); // observed by racing callers; never an unhandled rejection
    const ready = new Promise<void>((resolve, reject) => {
      worker.on('message', (message: { ioEvent?: IoEvent; ioReady?: boolean }) => {
        if (message?.ioReady) resolve();
        else if (message?.ioEvent) this.#onEvent(message.ioEvent);
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
      death,
      threadId: worker.threadId,
    };
    this.#members[index] = member;
    worker.on('error', (error) => fail(error));
    worker.once('exit', (code) => {
      const error = new ConnectionLostError(null, null, `its IO worker exited (code ${code})`);
      fail(error);
      if (this.#closed || this.#members[index] !== member) return;
      this.#members[index] = undefined;
      const restart = this.#startMember(index).catch(() => {});
      this.#restarting[index] = restart.finally(() => {
        this.#restarting[index] = undefined;
      });
      this.#onDeath(index, error);
    });
    await ready;
  }
}
