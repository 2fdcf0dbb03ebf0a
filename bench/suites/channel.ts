/**
 * Suite "channel": moving one small message between two threads.
 *
 * - round trip (ping-pong): the driver thread sends one Int32 and waits for the echo;
 * - one-way throughput: the driver sends as fast as the channel takes messages, then a marker the
 *   peer answers with its count (checked: nothing lost), over the whole window.
 *
 * Designs, side by side: MessagePort.postMessage (worker ↔ worker), comlink over a MessagePort
 * (one-way = pipelined calls, 256 in flight, since comlink has no fire-and-forget), atomvisor's
 * SharedChannel in SPSC and MPSC mode (blocking send/receive in workers; one-way also SPSC with
 * the batch calls trySendMany/tryReceiveMany, 64 per call), and a piscina no-op task
 * run from the main thread (round trip = `await pool.run()`; throughput = 256 tasks in flight, one
 * pool thread). Each (pattern, design) runs in its own process: one warm-up window, then samples.
 *
 * The coordinator's request-path preview (bench/coordinator.ts) was dropped: the scenarios suite
 * measures the coordinator end to end.
 *
 * Targets: SharedChannel round trip ≤ 1/100 of a postMessage round trip; SPSC ≥ 20 M msgs/s
 * (judged for single calls and for the batch calls, each on its own line).
 */
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { MessageChannel, type MessagePort, type Worker } from 'node:worker_threads';
import { SharedChannel } from '../../src/shm/channel.ts';
import { spawnWorker, workerEntry } from '../../src/spawn-worker.ts';
import { summarise } from '../stats.ts';
import {
  type CaseDef,
  findMeasurement,
  type Measurement,
  type Profile,
  type SuiteDef,
  type TargetResult,
  targetNotRun,
} from '../suite.ts';
import {
  BATCH,
  type ChannelDesign,
  type ChannelPattern,
  type ChannelRound,
  type ChannelWork,
} from '../workers/channel.protocol.ts';

const SUITE = 'channel';
const ENTRY = workerEntry(import.meta.url, '../workers/channel.worker');
const IN_FLIGHT = 256;

type Design = ChannelDesign | 'piscina';
export const DESIGNS: readonly Design[] = [
  'postMessage',
  'comlink',
  'SharedChannel spsc',
  'SharedChannel mpsc',
  'piscina',
];
const PATTERNS: readonly ChannelPattern[] = ['round-trip', 'one-way'];
/** One-way only: batching does nothing for a round trip of one message. */
const BATCHED: Design = 'SharedChannel spsc batched';

function plan(profile: Profile): { windowMs: number; samples: number } {
  const scale = profile.scale ?? 1;
  return profile.name === 'full'
    ? { windowMs: Math.max(10, 400 * scale), samples: 9 }
    : { windowMs: Math.max(10, 120 * scale), samples: scale < 1 ? 3 : 5 };
}

function firstMessage<T>(worker: Worker): Promise<T> {
  return new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`channel worker exited with code ${code}`)));
  });
}

async function runPair(
  design: ChannelDesign,
  pattern: ChannelPattern,
  windowMs: number,
  rounds: number,
): Promise<ChannelRound[]> {
  const base = { design, pattern, windowMs, rounds, inFlight: IN_FLIGHT };
  let driverData: Partial<ChannelWork> = {};
  let peerData: Partial<ChannelWork> = {};
  let driverTransfer: MessagePort[] = [];
  let peerTransfer: MessagePort[] = [];
  if (design.startsWith('SharedChannel')) {
    const mode = design === 'SharedChannel mpsc' ? 'mpsc' : 'spsc';
    const channels = [
      SharedChannel.create({ capacity: 1024, messageWords: 1, mode }).handle,
      SharedChannel.create({ capacity: 1024, messageWords: 1, mode }).handle,
    ] as ChannelWork['channels'];
    driverData = { channels };
    peerData = { channels };
  } else {
    const { port1, port2 } = new MessageChannel();
    driverData = { port: port1 };
    peerData = { port: port2 };
    driverTransfer = [port1];
    peerTransfer = [port2];
  }
  const peer = spawnWorker(
    ENTRY,
    { ...base, ...peerData, role: 'peer' },
    { transferList: peerTransfer },
  );
  const driver = spawnWorker(
    ENTRY,
    { ...base, ...driverData, role: 'driver' },
    { transferList: driverTransfer },
  );
  try {
    return await Promise.race([
      firstMessage<ChannelRound[]>(driver),
      new Promise<never>((_, reject) => peer.once('error', reject)),
    ]);
  } finally {
    await Promise.all([driver.terminate(), peer.terminate()]);
  }
}

/** piscina from this process's main thread, one pool thread running a no-op task module. */
async function runPiscina(
  pattern: ChannelPattern,
  windowMs: number,
  rounds: number,
): Promise<ChannelRound[]> {
  const { Piscina } = await import('piscina');
  // A plain .mjs task file: piscina's threads load it without TypeScript, from source or built.
  const file = join(tmpdir(), `atomvisor-bench-noop-${process.pid}.mjs`);
  writeFileSync(file, 'export default (x) => x;\n');
  const pool = new Piscina({
    filename: pathToFileURL(file).href,
    minThreads: 1,
    maxThreads: 1,
  });
  try {
    const out: ChannelRound[] = [];
    for (let r = 0; r < rounds; r++) {
      const t0 = performance.now();
      const deadline = t0 + windowMs;
      let ops = 0;
      do {
        if (pattern === 'round-trip') {
          for (let k = 0; k < 16; k++) await pool.run(k);
          ops += 16;
        } else {
          const tasks: Promise<unknown>[] = [];
          for (let k = 0; k < IN_FLIGHT; k++) tasks.push(pool.run(k));
          await Promise.all(tasks);
          ops += IN_FLIGHT;
        }
      } while (performance.now() < deadline);
      out.push({ ops, ms: performance.now() - t0 });
    }
    return out;
  } finally {
    await pool.destroy();
    rmSync(file, { force: true });
  }
}

function caseFor(design: Design, pattern: ChannelPattern, profile: Profile): CaseDef {
  const { windowMs, samples } = plan(profile);
  const id = `${pattern}-${design.toLowerCase().replaceAll(' ', '-')}`;
  return {
    id,
    title: `${pattern === 'round-trip' ? 'ping-pong round trip' : 'one-way throughput'}: ${design}`,
    estimateMs: 1_000 + (samples + 1) * windowMs,
    async run(p) {
      const rounds =
        design === 'piscina'
          ? await runPiscina(pattern, windowMs, samples + 1)
          : await runPair(design, pattern, windowMs, samples + 1);
      const measured = rounds.slice(1); // the first window warms up
      const roundTrip = pattern === 'round-trip';
      const values = measured.map((r) =>
        roundTrip ? (r.ms * 1e6) / r.ops : r.ops / (r.ms / 1000),
      );
      return [
        {
          suite: SUITE,
          case: id,
          metric: roundTrip ? 'round trip' : 'one-way throughput',
          design,
          threads: 2,
          workload: roundTrip ? 'ping-pong' : 'one-way',
          unit: roundTrip ? 'ns' : 'msgs/s',
          better: roundTrip ? 'lower' : 'higher',
          ...summarise(values),
          extra: {
            windowMs,
            opsPerSample: Math.round(measured.reduce((n, r) => n + r.ops, 0) / measured.length),
            ...(design === 'comlink' && !roundTrip ? { inFlight: IN_FLIGHT } : {}),
            ...(design === BATCHED ? { batch: BATCH } : {}),
            ...(design === 'piscina' ? { from: 'main thread', poolThreads: 1 } : {}),
            ...(design === 'piscina' && !roundTrip ? { inFlight: IN_FLIGHT } : {}),
            profile: p.name,
          },
        },
      ];
    },
  };
}

function roundTripTarget(measurements: readonly Measurement[]): TargetResult {
  const description = 'SharedChannel (spsc) round trip ≤ 1/100 of a postMessage round trip';
  const where = { suite: SUITE, metric: 'round trip' } as const;
  const sc = findMeasurement(measurements, { ...where, design: 'SharedChannel spsc' });
  const pm = findMeasurement(measurements, { ...where, design: 'postMessage' });
  if (!sc || !pm || !(sc.median > 0)) {
    return targetNotRun('round-trip-vs-postmessage', description);
  }
  const speedup = pm.median / sc.median;
  const met = speedup >= 100;
  return {
    id: 'round-trip-vs-postmessage',
    description,
    value: speedup,
    shown: `1/${speedup.toFixed(speedup < 10 ? 1 : 0)} (${(sc.median / 1e3).toFixed(2)} µs vs ${(pm.median / 1e3).toFixed(1)} µs)`,
    met,
    ...(met
      ? {}
      : {
          note: `with both threads spinning on their own core a round trip is two cache-line hand-offs (this run's lower CI bound: ${(sc.ciLow / 1e3).toFixed(2)} µs, 1/${(pm.median / sc.ciLow).toFixed(0)} of postMessage); on a 2-core machine shared with other work the waiting side is often descheduled or parked (Atomics.wait after 100 spins), and each wake-up costs microseconds`,
        }),
  };
}

function spscTarget(measurements: readonly Measurement[], batched: boolean): TargetResult {
  const design = batched ? BATCHED : 'SharedChannel spsc';
  const id = batched ? 'spsc-throughput-batched' : 'spsc-throughput';
  const description = batched
    ? `SharedChannel SPSC one-way ≥ 20 M msgs/s, batch calls (trySendMany/tryReceiveMany, ${BATCH} per call)`
    : 'SharedChannel SPSC one-way ≥ 20 M msgs/s, one send/receive call per message';
  const m = findMeasurement(measurements, { suite: SUITE, metric: 'one-way throughput', design });
  if (!m) return targetNotRun(id, description);
  const met = m.median >= 20e6;
  let note: string | undefined;
  if (!met && !batched) {
    note =
      'every message is its own send and receive call: a send is one CAS of the tail (publish and closed check in one) and a parked-peer check, a receive an index store and a parked-producer check, and the two indices bounce between the two cores’ caches on every message; the batch calls publish once per batch (see the batched row)';
  } else if (!met) {
    note =
      'the batch calls did not reach 20 M msgs/s on this run: see the CI and the load warnings';
  }
  return {
    id,
    description,
    value: m.median,
    shown: `${(m.median / 1e6).toFixed(2)} M msgs/s`,
    met,
    ...(note ? { note } : {}),
  };
}

export const suite: SuiteDef = {
  name: SUITE,
  description:
    'Ping-pong round trip and one-way throughput between two threads: postMessage, comlink, SharedChannel SPSC/MPSC, and a piscina no-op task.',
  cases(profile) {
    return PATTERNS.flatMap((pattern) =>
      [...DESIGNS, ...(pattern === 'one-way' ? [BATCHED] : [])].map((d) =>
        caseFor(d, pattern, profile),
      ),
    );
  },
  targets(measurements) {
    return [
      roundTripTarget(measurements),
      spscTarget(measurements, false),
      spscTarget(measurements, true),
    ];
  },
};
