/**
 * The coordinator's request path, end to end (main thread → comlink → IO worker → child stdio and
 * back), next to the same echo server driven directly from the main thread over its pipes: the
 * difference is what the worker hop (the control plane) costs.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createCoordinator } from '../src/coordinator/coordinator.ts';
import { type Summary, summarise } from './stats.ts';

export interface RequestPathResult {
  case: string;
  unit: 'µs/request';
  summary: Summary;
}

const ECHO = fileURLToPath(new URL('../test/fixtures/echo-server.mjs', import.meta.url));

async function timeBatches(
  samples: number,
  batch: number,
  run: () => Promise<void>,
): Promise<number[]> {
  for (let i = 0; i < 2; i++) await run(); // warm-up
  const out: number[] = [];
  for (let i = 0; i < samples; i++) {
    const t0 = performance.now();
    await run();
    out.push(((performance.now() - t0) * 1000) / batch);
  }
  return out;
}

export async function runRequestPath(options: {
  samples: number;
  batch: number;
}): Promise<RequestPathResult[]> {
  const { samples, batch } = options;
  const results: RequestPathResult[] = [];
  // Direct: the main thread owns the child's pipes.
  const child = spawn(process.execPath, [ECHO], { stdio: ['pipe', 'pipe', 'inherit'] });
  const pending = new Map<number, () => void>();
  let buffered = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    let nl = buffered.indexOf('\n');
    while (nl >= 0) {
      const { id } = JSON.parse(buffered.slice(0, nl)) as { id: number };
      buffered = buffered.slice(nl + 1);
      pending.get(id)?.();
      pending.delete(id);
      nl = buffered.indexOf('\n');
    }
  });
  let nextId = 1;
  const direct = () =>
    new Promise<void>((resolve) => {
      const id = nextId++;
      pending.set(id, resolve);
      child.stdin.write(
        `${JSON.stringify({ jsonrpc: '2.0', id, method: 'echo', params: { id } })}\n`,
      );
    });
  const c = createCoordinator();
  try {
    await c.register('echo', { command: process.execPath, args: [ECHO] });
    const viaCoordinator = () => c.request('echo', 'echo', { n: 1 }).then(() => {});
    const sequential = (one: () => Promise<void>) => async () => {
      for (let i = 0; i < batch; i++) await one();
    };
    const pipelined = (one: () => Promise<void>) => async () => {
      await Promise.all(Array.from({ length: batch }, one));
    };
    const cases: [string, () => Promise<void>][] = [
      ['direct stdio, sequential', sequential(direct)],
      ['coordinator.request, sequential', sequential(viaCoordinator)],
      ['direct stdio, 64 in flight', pipelined(direct)],
      ['coordinator.request, 64 in flight', pipelined(viaCoordinator)],
    ];
    for (const [name, run] of cases) {
      results.push({
        case: name,
        unit: 'µs/request',
        summary: summarise(await timeBatches(samples, batch, run)),
      });
    }
  } finally {
    child.stdin.end();
    await c.close();
  }
  return results;
}
