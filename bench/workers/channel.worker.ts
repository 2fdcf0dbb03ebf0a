// One side of a channel-suite pair. The driver runs `rounds` timed windows: ping-pong (send, wait
// for the echo) or one-way (send as fast as the channel takes, then a -1 marker the peer answers
// with its count). The peer only answers. Posts the driver's rounds to the suite when done.
import { type MessagePort, parentPort, workerData } from 'node:worker_threads';
import * as Comlink from 'comlink';
import { nodeEndpoint } from '../../src/io/wire.ts';
import { SharedChannel, type SharedChannelHandle } from '../../src/shm/channel.ts';
import { BATCH, type ChannelRound, type ChannelWork } from './channel.protocol.ts';

const work = workerData as ChannelWork;
const CHECK_EVERY = 64;

interface PeerApi {
  echo(x: number): number;
  noop(x: number): void;
  count(): number;
}

function peer(): void {
  if (work.design === 'postMessage') {
    const port = work.port as MessagePort;
    let count = 0;
    port.on('message', (x: number) => {
      if (work.pattern === 'round-trip') port.postMessage(x);
      else if (x === -1) {
        port.postMessage(count);
        count = 0;
      } else count++;
    });
    return;
  }
  if (work.design === 'comlink') {
    let count = 0;
    const api: PeerApi = {
      echo: (x) => x,
      noop: () => {
        count++;
      },
      count: () => {
        const c = count;
        count = 0;
        return c;
      },
    };
    Comlink.expose(api, nodeEndpoint(work.port as MessagePort));
    return;
  }
  const [toPeer, toDriver] = (work.channels as [SharedChannelHandle, SharedChannelHandle]).map(
    (h) => SharedChannel.from(h),
  ) as [SharedChannel, SharedChannel];
  const m = new Int32Array(1);
  let count = 0;
  if (work.design === 'SharedChannel spsc batched') {
    // Wait (parking if need be) for one message, then take whatever else is there in one call.
    const batch = new Int32Array(BATCH);
    const handle = (x: number) => {
      if (x !== -1) count++;
      else {
        m[0] = count;
        toDriver.send(m);
        count = 0;
      }
    };
    while (toPeer.receive(m) !== null) {
      handle(m[0] as number);
      const n = toPeer.tryReceiveMany(batch);
      for (let i = 0; i < n; i++) handle(batch[i] as number);
    }
    return;
  }
  while (toPeer.receive(m) !== null) {
    if (work.pattern === 'round-trip') toDriver.send(m);
    else if (m[0] === -1) {
      m[0] = count;
      toDriver.send(m);
      count = 0;
    } else count++;
  }
}

async function driver(): Promise<ChannelRound[]> {
  const rounds: ChannelRound[] = [];
  const { windowMs } = work;
  if (work.design.startsWith('SharedChannel')) {
    const [toPeer, toDriver] = (work.channels as [SharedChannelHandle, SharedChannelHandle]).map(
      (h) => SharedChannel.from(h),
    ) as [SharedChannel, SharedChannel];
    const m = new Int32Array(1);
    for (let r = 0; r < work.rounds; r++) {
      const t0 = performance.now();
      const deadline = t0 + windowMs;
      let ops = 0;
      if (work.pattern === 'round-trip') {
        do {
          for (let k = 0; k < CHECK_EVERY; k++) {
            m[0] = k;
            toPeer.send(m);
            toDriver.receive(m);
          }
          ops += CHECK_EVERY;
        } while (performance.now() < deadline);
      } else if (work.design === 'SharedChannel spsc batched') {
        const batch = new Int32Array(BATCH);
        for (let k = 0; k < BATCH; k++) batch[k] = k;
        do {
          for (let off = 0; off < BATCH; ) {
            const sent = toPeer.trySendMany(off === 0 ? batch : batch.subarray(off));
            if (sent > 0) off += sent;
            else {
              // Full: wait for room the blocking way (spins, then parks) with one message.
              toPeer.send(batch.subarray(off, off + 1));
              off++;
            }
          }
          ops += BATCH;
        } while (performance.now() < deadline);
      } else {
        do {
          for (let k = 0; k < CHECK_EVERY; k++) {
            m[0] = k;
            toPeer.send(m);
          }
          ops += CHECK_EVERY;
        } while (performance.now() < deadline);
      }
      if (work.pattern !== 'round-trip') {
        // One-way: the peer reports how many it received; all of them must have arrived.
        m[0] = -1;
        toPeer.send(m);
        toDriver.receive(m);
        if (m[0] !== ops) throw new Error(`peer counted ${m[0]} of ${ops} messages`);
      }
      rounds.push({ ops, ms: performance.now() - t0 });
    }
    toPeer.close();
    return rounds;
  }
  if (work.design === 'postMessage') {
    const port = work.port as MessagePort;
    let pending: ((x: number) => void) | undefined;
    port.on('message', (x: number) => {
      const resolve = pending;
      pending = undefined;
      resolve?.(x);
    });
    const next = () =>
      new Promise<number>((resolve) => {
        pending = resolve;
      });
    for (let r = 0; r < work.rounds; r++) {
      const t0 = performance.now();
      const deadline = t0 + windowMs;
      let ops = 0;
      if (work.pattern === 'round-trip') {
        do {
          for (let k = 0; k < CHECK_EVERY; k++) {
            const reply = next();
            port.postMessage(k);
            await reply;
          }
          ops += CHECK_EVERY;
        } while (performance.now() < deadline);
      } else {
        do {
          for (let k = 0; k < CHECK_EVERY; k++) port.postMessage(k);
          ops += CHECK_EVERY;
        } while (performance.now() < deadline);
        const reply = next();
        port.postMessage(-1);
        const counted = await reply;
        if (counted !== ops) throw new Error(`peer counted ${counted} of ${ops} messages`);
      }
      rounds.push({ ops, ms: performance.now() - t0 });
    }
    port.close();
    return rounds;
  }
  // comlink
  const remote = Comlink.wrap<PeerApi>(nodeEndpoint(work.port as MessagePort));
  for (let r = 0; r < work.rounds; r++) {
    const t0 = performance.now();
    const deadline = t0 + windowMs;
    let ops = 0;
    if (work.pattern === 'round-trip') {
      do {
        for (let k = 0; k < CHECK_EVERY; k++) await remote.echo(k);
        ops += CHECK_EVERY;
      } while (performance.now() < deadline);
    } else {
      // Pipelined: `inFlight` calls outstanding at a time (comlink has no fire-and-forget).
      do {
        const calls: Promise<void>[] = [];
        for (let k = 0; k < work.inFlight; k++) calls.push(remote.noop(k));
        await Promise.all(calls);
        ops += work.inFlight;
      } while (performance.now() < deadline);
      const counted = await remote.count();
      if (counted !== ops) throw new Error(`peer counted ${counted} of ${ops} calls`);
    }
    rounds.push({ ops, ms: performance.now() - t0 });
  }
  remote[Comlink.releaseProxy]();
  (work.port as MessagePort).close();
  return rounds;
}

if (work.role === 'peer') {
  peer();
} else {
  const rounds = await driver();
  parentPort!.postMessage(rounds);
}
