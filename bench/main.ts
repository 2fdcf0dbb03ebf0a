/**
 * `atomvisor bench` (npm run bench): for now the primitives preview: the uncontended cost of each
 * shared-memory primitive next to Atomics.load and a plain read, and two-thread contended costs.
 * The full suite (shared-state designs, channels vs postMessage/comlink/piscina, pools, the five
 * failure scenarios, scale) is the benchmark-suite issue.
 *
 * Options: --quick (shorter), --json FILE.
 */
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { hasAtomicsPause } from '../src/shm/runtime.ts';
import { runContended } from './contended.ts';
import { runRequestPath } from './coordinator.ts';
import { formatNs } from './stats.ts';
import { runUncontended } from './uncontended.ts';

export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { quick: { type: 'boolean' }, json: { type: 'string' } },
    strict: true,
  });
  const quick = values.quick ?? false;
  const environment = {
    node: process.version,
    v8: process.versions.v8,
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    atomicsPause: hasAtomicsPause,
    date: new Date().toISOString(),
  };
  console.log(
    `atomvisor bench (primitives preview) — Node ${environment.node}, ${environment.cores} × ${environment.cpu}`,
  );
  console.log('\n1 thread, uncontended (median per op, 95% CI of the median):');
  const single = await runUncontended({ timeMs: quick ? 150 : 500 });
  for (const r of single) {
    const s = r.summary;
    console.log(
      `  ${r.case.padEnd(42)} ${formatNs(s.median).padStart(10)}   [${formatNs(s.ciLow)} – ${formatNs(s.ciHigh)}], ${s.samples} samples`,
    );
  }
  console.log('\n2 threads, contended (median of samples, each in fresh workers):');
  const contended = await runContended({ samples: quick ? 3 : 5, scale: quick ? 0.25 : 1 });
  for (const r of contended) {
    const s = r.summary;
    console.log(
      `  ${r.case.padEnd(70)} ${formatNs(s.median).padStart(10)}   [${formatNs(s.ciLow)} – ${formatNs(s.ciHigh)}]`,
    );
  }
  console.log(
    '\nRequest path to a stdio echo server (median per request; 64 requests per sample):',
  );
  const requestPath = await runRequestPath({ samples: quick ? 5 : 15, batch: 64 });
  for (const r of requestPath) {
    const s = r.summary;
    console.log(
      `  ${r.case.padEnd(42)} ${s.median.toFixed(1).padStart(8)} µs   [${s.ciLow.toFixed(1)} – ${s.ciHigh.toFixed(1)}]`,
    );
  }
  if (values.json) {
    writeFileSync(
      values.json,
      `${JSON.stringify({ environment, uncontended: single, contended, requestPath }, null, 2)}\n`,
    );
    console.log(`\nwrote ${values.json}`);
  }
  return 0;
}
