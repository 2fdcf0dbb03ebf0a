// One thread of the shared-state suite: a client that reads/updates the shared process record
// through one design, or (channel designs) the owner thread that holds the record and answers.
//
// Rounds: the main thread bumps ctrl[ROUND]; clients start together, the last to start opens the
// measuring window (ctrl[MEASURING] = round, its clock in times[0]); each client counts the ops it
// completes between seeing MEASURING and seeing STOP, samples one op in LAT_EVERY for latency, and
// posts its figures. Only the window all clients share is counted.
import { type MessagePort, parentPort, workerData } from 'node:worker_threads';
import * as Comlink from 'comlink';
import { nodeEndpoint } from '../../src/io/wire.ts';
import { SharedChannel, type SharedChannelHandle } from '../../src/shm/channel.ts';
import { Mutex, type MutexHandle } from '../../src/shm/mutex.ts';
import { Seqlock, type SeqlockHandle } from '../../src/shm/seqlock.ts';
import { update } from '../../src/shm/state-word.ts';

import {
  Ctrl,
  FIELDS,
  LAT_CAP,
  LAT_EVERY,
  type RoundResult,
  type SharedStateWork,
} from './shared-state.protocol.ts';

const work = workerData as SharedStateWork;
const { ctrl, times } = work;
const clock = () => performance.timeOrigin + performance.now();

/** The owner's record for channel designs: plain memory, one thread touches it. */
const record = new Int32Array(FIELDS);
function applyWrite(x: number): void {
  record[0] = 1;
  record[2] = (record[2] as number) + 1;
  record[4] = x;
  record[5] = x ^ 0x5a5a;
}

async function runOwner(): Promise<void> {
  if (work.design === 'channel:postMessage') {
    for (const port of work.ports ?? []) {
      port.on('message', (m: number) => {
        // m < 0: read; otherwise an update with value m.
        if (m < 0) port.postMessage(record.slice());
        else {
          applyWrite(m);
          port.postMessage(0);
        }
      });
    }
    return;
  }
  if (work.design === 'channel:comlink') {
    const api = {
      read: () => record.slice(),
      write: (x: number) => {
        applyWrite(x);
      },
    };
    for (const port of work.ports ?? []) Comlink.expose(api, nodeEndpoint(port));
    return;
  }
  // SharedChannel: one MPSC request ring [client, x] (x < 0: read), one SPSC reply ring per client.
  const requests = SharedChannel.from(work.requests as SharedChannelHandle);
  const replies = (work.replies ?? []).map((h) => SharedChannel.from(h));
  const req = new Int32Array(2);
  const ack = new Int32Array(FIELDS);
  while (requests.receive(req) !== null) {
    const client = req[0] as number;
    const x = req[1] as number;
    const reply = replies[client] as SharedChannel;
    if (x < 0) reply.send(record);
    else {
      applyWrite(x);
      reply.send(ack);
    }
  }
}

/** xorshift32: a cheap per-thread PRNG to pick read or update. */
let seed = (work.index + 1) * 0x9e3779b1;
function nextRandom(): number {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) % 100;
}

function syncOps(): { read: () => void; write: (x: number) => void } {
  const out = new Int32Array(FIELDS);
  if (work.design === 'mutex') {
    const mutex = Mutex.from(work.mutex as MutexHandle);
    const f = work.fields as Int32Array;
    return {
      read() {
        mutex.lock();
        for (let i = 0; i < FIELDS; i++) out[i] = f[i] as number;
        mutex.unlock();
      },
      write(x) {
        mutex.lock();
        f[0] = 1;
        f[2] = (f[2] as number) + 1;
        f[4] = x;
        f[5] = x ^ 0x5a5a;
        mutex.unlock();
      },
    };
  }
  if (work.design === 'atomic') {
    const state = work.state as Int32Array;
    const seqlock = Seqlock.from(work.seqlock as SeqlockHandle);
    const values = [1, work.index, 0, 0, 0, 0];
    return {
      read() {
        out[0] = Atomics.load(state, 0);
        seqlock.read(out);
      },
      write(x) {
        // The counter lives in the CAS state word; the rest of the record is a seqlocked snapshot.
        values[2] = update(state, 0, (w) => w + 1) + 1;
        values[4] = x;
        values[5] = x ^ 0x5a5a;
        seqlock.write(values);
      },
    };
  }
  // channel:SharedChannel — a blocking request/reply over shared memory.
  const requests = SharedChannel.from(work.requests as SharedChannelHandle);
  const reply = SharedChannel.from((work.replies ?? [])[work.index] as SharedChannelHandle);
  const req = new Int32Array(2);
  req[0] = work.index;
  return {
    read() {
      req[1] = -1;
      requests.send(req);
      reply.receive(out);
    },
    write(x) {
      req[1] = x;
      requests.send(req);
      reply.receive(out);
    },
  };
}

function asyncOps(): { read: () => Promise<unknown>; write: (x: number) => Promise<unknown> } {
  const port = work.port as MessagePort;
  if (work.design === 'channel:comlink') {
    const remote = Comlink.wrap<{ read(): Int32Array; write(x: number): void }>(nodeEndpoint(port));
    return { read: () => remote.read(), write: (x) => remote.write(x) };
  }
  let pending: ((v: unknown) => void) | undefined;
  port.on('message', (v) => {
    const resolve = pending;
    pending = undefined;
    resolve?.(v);
  });
  const call = (m: number) =>
    new Promise((resolve) => {
      pending = resolve;
      port.postMessage(m);
    });
  return { read: () => call(-1), write: (x) => call(x) };
}

function startRound(round: number): void {
  if (Atomics.add(ctrl, Ctrl.STARTED, 1) + 1 === work.clients) {
    times[0] = clock();
    Atomics.store(ctrl, Ctrl.MEASURING, round);
    Atomics.notify(ctrl, Ctrl.MEASURING);
  }
}

function runSyncRound(round: number, ops: ReturnType<typeof syncOps>): RoundResult {
  const lat = new Float64Array(LAT_CAP);
  let n = 0;
  let done = 0;
  let from = -1;
  let writes = 0;
  startRound(round);
  for (;;) {
    for (let k = 0; k < 16; k++) {
      const isWrite = nextRandom() < work.writePercent;
      if (isWrite) writes++;
      if (from >= 0 && ((done - from) & (LAT_EVERY - 1)) === 0 && n < LAT_CAP) {
        const t = performance.now();
        if (isWrite) ops.write(done);
        else ops.read();
        lat[n++] = (performance.now() - t) * 1e6;
      } else if (isWrite) ops.write(done);
      else ops.read();
      done++;
    }
    if (from < 0 && Atomics.load(ctrl, Ctrl.MEASURING) === round) from = done;
    if (Atomics.load(ctrl, Ctrl.STOP) === round) break;
  }
  return {
    round,
    index: work.index,
    counted: from < 0 ? 0 : done - from,
    writes,
    latenciesNs: lat.slice(0, n),
  };
}

async function runAsyncRound(
  round: number,
  ops: ReturnType<typeof asyncOps>,
): Promise<RoundResult> {
  const lat = new Float64Array(LAT_CAP);
  let n = 0;
  let done = 0;
  let from = -1;
  let writes = 0;
  startRound(round);
  for (;;) {
    const isWrite = nextRandom() < work.writePercent;
    if (isWrite) writes++;
    if (from >= 0 && ((done - from) & (LAT_EVERY - 1)) === 0 && n < LAT_CAP) {
      const t = performance.now();
      await (isWrite ? ops.write(done) : ops.read());
      lat[n++] = (performance.now() - t) * 1e6;
    } else await (isWrite ? ops.write(done) : ops.read());
    done++;
    if (from < 0 && Atomics.load(ctrl, Ctrl.MEASURING) === round) from = done;
    if (Atomics.load(ctrl, Ctrl.STOP) === round) break;
  }
  return {
    round,
    index: work.index,
    counted: from < 0 ? 0 : done - from,
    writes,
    latenciesNs: lat.slice(0, n),
  };
}

async function runClient(): Promise<void> {
  const isAsync = work.design === 'channel:postMessage' || work.design === 'channel:comlink';
  const sync = isAsync ? undefined : syncOps();
  const async_ = isAsync ? asyncOps() : undefined;
  let round = 0;
  // Atomics.waitAsync alone does not keep a worker's event loop alive; the port listener does.
  parentPort!.on('message', () => {});
  parentPort!.postMessage({ ready: work.index });
  for (;;) {
    // Wait for the next round without blocking the event loop (async designs need it).
    const w = Atomics.waitAsync(ctrl, Ctrl.ROUND, round);
    if (w.async) await w.value;
    if (Atomics.load(ctrl, Ctrl.EXIT) !== 0) break;
    round = Atomics.load(ctrl, Ctrl.ROUND);
    const result = sync
      ? runSyncRound(round, sync)
      : await runAsyncRound(round, async_ as ReturnType<typeof asyncOps>);
    parentPort!.postMessage(result, [result.latenciesNs.buffer as ArrayBuffer]);
  }
  process.exit(0);
}

if (work.role === 'owner') {
  parentPort!.postMessage({ ready: -1 });
  await runOwner();
} else {
  await runClient();
}
