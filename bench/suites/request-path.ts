/**
 * Suite "request-path": what one request costs an embedding service, atomvisor beside what a user
 * would write instead — a direct main-thread client and the MCP SDK's Client — against the same
 * echo server, each case in a fresh process (bench/peers/request-drivers.ts has the designs).
 *
 * Per design and payload (~100 B and ~64 KiB of params):
 * - sequential latency p50 / p99: one request at a time;
 * - pipelined throughput: 64 requests in flight, each caller sending its next as soon as its
 *   last one is answered;
 * - main-thread busy time per request: event-loop utilisation × time / requests over the
 *   pipelined run (what the service's own thread pays);
 * - CPU per request: process.cpuUsage() over the pipelined run (every thread of the process, IO
 *   workers included; not the server's);
 * - RSS after the run.
 */
import { availableParallelism } from 'node:os';
import {
  makeRequestDriver,
  REQUEST_DESIGNS,
  type RequestDesign,
  type RequestDriver,
} from '../peers/request-drivers.ts';
import { type MeasurementBase, measured, notRun, quantile } from '../scenarios/measure.ts';
import {
  type CaseDef,
  findMeasurement,
  type Measurement,
  type Profile,
  type SuiteDef,
  type TargetResult,
  targetNotRun,
} from '../suite.ts';

const SUITE = 'request-path';
const IN_FLIGHT = 64;
const PAYLOADS = [
  { label: '100 B', chars: 64 },
  { label: '64 KiB', chars: 64 * 1024 },
] as const;
type PayloadLabel = (typeof PAYLOADS)[number]['label'];

export const METRICS = {
  throughput: ['pipelined throughput', 'req/s', 'higher'],
  p50: ['sequential p50', 'µs', 'lower'],
  p99: ['sequential p99', 'µs', 'lower'],
  busy: ['main-thread busy per request', 'µs', 'lower'],
  cpu: ['CPU per request', 'µs', 'lower'],
  rss: ['RSS', 'bytes', 'lower'],
} as const;
const ORDER = [
  METRICS.throughput,
  METRICS.p50,
  METRICS.p99,
  METRICS.busy,
  METRICS.cpu,
  METRICS.rss,
];

interface Pipelined {
  reqPerSec: number;
  busyUs: number;
  cpuUs: number;
}

async function pipelined(
  driver: RequestDriver,
  params: Record<string, unknown>,
  ms: number,
): Promise<Pipelined> {
  let done = 0;
  let stop = false;
  const elu0 = performance.eventLoopUtilization();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const loop = async () => {
    while (!stop) {
      await driver.echo(params);
      done++;
    }
  };
  const timer = setTimeout(() => {
    stop = true;
  }, ms);
  await Promise.all(Array.from({ length: IN_FLIGHT }, loop));
  clearTimeout(timer);
  const seconds = (performance.now() - t0) / 1000;
  const elu = performance.eventLoopUtilization(elu0);
  const cpu = process.cpuUsage(cpu0);
  return {
    reqPerSec: done / seconds,
    busyUs: (elu.active * 1000) / done,
    cpuUs: (cpu.user + cpu.system) / done,
  };
}

async function sequential(
  driver: RequestDriver,
  params: Record<string, unknown>,
  count: number,
): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const t = performance.now();
    await driver.echo(params);
    out.push((performance.now() - t) * 1000);
  }
  return out;
}

function caseFor(
  design: RequestDesign,
  payload: (typeof PAYLOADS)[number],
  profile: Profile,
): CaseDef {
  const full = profile.name === 'full';
  const scale = profile.scale ?? 1;
  const samples = Math.max(2, Math.round((full ? 10 : 5) * scale));
  const windowMs = Math.max(30, Math.round((full ? 600 : 300) * scale));
  const big = payload.chars > 1000;
  const seqCount = Math.max(20, Math.round((big ? 100 : 400) * scale));
  const id = `${design.replace(/ /g, '-')}-${payload.label.replace(/ /g, '')}`;
  return {
    id,
    title: `request path: ${design}, ${payload.label}`,
    estimateMs: 2_000 + samples * (windowMs + seqCount * (big ? 0.6 : 0.1)),
    async run() {
      const base: MeasurementBase = {
        suite: SUITE,
        case: id,
        design,
        threads: 1,
        workload: payload.label,
      };
      const driver = await makeRequestDriver(design);
      if ('missing' in driver)
        return ORDER.map(([m, u, b]) => notRun(base, m, u, b, driver.missing));
      const params = { data: 'x'.repeat(payload.chars) };
      const runs: Pipelined[] = [];
      const p50s: number[] = [];
      const p99s: number[] = [];
      let rss = 0;
      try {
        const echoed = (await driver.echo(params)) as { data?: string };
        if (echoed?.data !== params.data)
          throw new Error(`${design}: echo returned something else`);
        await sequential(driver, params, Math.round(seqCount / 4)); // warm-up
        await pipelined(driver, params, windowMs / 2);
        for (let i = 0; i < samples; i++) {
          const lat = (await sequential(driver, params, seqCount)).sort((a, b) => a - b);
          p50s.push(quantile(lat, 0.5));
          p99s.push(quantile(lat, 0.99));
          runs.push(await pipelined(driver, params, windowMs));
        }
        rss = process.memoryUsage().rss;
      } finally {
        await driver.close();
      }
      const extra = { inFlight: IN_FLIGHT, cores: availableParallelism() };
      return [
        measured(
          base,
          ...METRICS.throughput,
          runs.map((r) => r.reqPerSec),
          extra,
        ),
        measured(base, ...METRICS.p50, p50s),
        measured(base, ...METRICS.p99, p99s),
        measured(
          base,
          ...METRICS.busy,
          runs.map((r) => r.busyUs),
        ),
        measured(
          base,
          ...METRICS.cpu,
          runs.map((r) => r.cpuUs),
        ),
        measured(base, ...METRICS.rss, [rss]),
      ];
    },
  };
}

function find(
  all: readonly Measurement[],
  design: RequestDesign,
  metric: string,
  workload: PayloadLabel,
) {
  const m = findMeasurement(all, { suite: SUITE, design, metric, workload });
  return m !== undefined && Number.isFinite(m.median) ? m : undefined;
}

/** ours / theirs (or theirs / ours for lower-is-better) against a bound. */
function ratio(
  all: readonly Measurement[],
  id: string,
  description: string,
  ours: RequestDesign,
  theirs: RequestDesign,
  metric: readonly [string, string, 'higher' | 'lower'],
  workload: PayloadLabel,
  bound: number,
): TargetResult {
  const a = find(all, ours, metric[0], workload);
  const b = find(all, theirs, metric[0], workload);
  if (a === undefined || b === undefined) {
    const status = (a ?? b)?.extra?.status;
    return targetNotRun(id, description, typeof status === 'string' ? status : undefined);
  }
  const value = a.median / b.median;
  const met = metric[2] === 'higher' ? value >= bound : value <= bound;
  return { id, description, value, shown: `${value.toFixed(2)}×`, met };
}

export const suite: SuiteDef = {
  name: SUITE,
  description:
    'one request end to end: atomvisor request()/lease vs a direct main-thread client and the MCP SDK Client, same echo server',
  cases(profile) {
    return PAYLOADS.flatMap((payload) =>
      REQUEST_DESIGNS.map((design) => caseFor(design, payload, profile)),
    );
  },
  targets(all) {
    const out: TargetResult[] = [];
    for (const { label } of PAYLOADS) {
      out.push(
        ratio(
          all,
          `request-throughput-direct-${label}`,
          `request path (${label}): atomvisor throughput ≥ 1× the direct client`,
          'atomvisor',
          'direct',
          METRICS.throughput,
          label,
          1,
        ),
        ratio(
          all,
          `request-busy-direct-${label}`,
          `request path (${label}): main-thread busy per request ≤ 0.6× the direct client`,
          'atomvisor',
          'direct',
          METRICS.busy,
          label,
          0.6,
        ),
        ratio(
          all,
          `request-p50-direct-${label}`,
          `request path (${label}): sequential p50 ≤ 2× the direct client`,
          'atomvisor',
          'direct',
          METRICS.p50,
          label,
          2,
        ),
        ratio(
          all,
          `request-throughput-sdk-${label}`,
          `request path (${label}): throughput ≥ 3× the MCP SDK Client`,
          'atomvisor',
          'mcp-sdk',
          METRICS.throughput,
          label,
          3,
        ),
      );
      const scaled = ratio(
        all,
        `request-replicas-${label}`,
        `request path (${label}): 2 replicas ≥ 1.3× the throughput of 1 (judged on ≥ 4 cores)`,
        'atomvisor x2',
        'atomvisor',
        METRICS.throughput,
        label,
        1.3,
      );
      const cores = find(all, 'atomvisor', METRICS.throughput[0], label)?.extra?.cores;
      if (typeof cores === 'number' && cores < 4 && scaled.met !== 'not run')
        out.push({
          ...scaled,
          met: 'not run',
          note: `reported, not judged: this machine has ${cores} cores (the server, the IO worker and the caller share them)`,
        });
      else out.push(scaled);
    }
    return out;
  },
};
