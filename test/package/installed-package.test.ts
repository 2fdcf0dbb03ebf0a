/**
 * The package as a user installs it: `npm pack` (which builds through `prepack`), install the
 * tarball into an empty project, then plain `node` — no tsx, no TypeScript — imports atomvisor,
 * shares a Mutex and a SharedChannel with a worker through their handles, and runs a coordinator
 * (whose IO workers start from the shipped dist/workers/io-worker.js) over the echo fixture.
 */
import { copyFile, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type InstalledProject, installPacked, REPO as repo, run } from './packed.ts';

const MAIN = `
import { Worker } from 'node:worker_threads';
import { Mutex, SharedChannel, InvalidArgumentError } from 'atomvisor';
import * as shm from 'atomvisor/shm';

const mutex = Mutex.create();
const channel = SharedChannel.create({ capacity: 8, messageWords: 2 });
const counter = new Int32Array(new SharedArrayBuffer(4));
const worker = new Worker(new URL('./worker.mjs', import.meta.url), {
  workerData: { mutex: mutex.handle, channel: channel.handle, counter },
});
const rounds = 2000;
for (let i = 0; i < rounds; i++) {
  await mutex.lockAsync({ timeoutMs: 10000 });
  counter[0] = counter[0] + 1;
  mutex.unlock();
}
const reply = await channel.receiveAsync(undefined, { timeoutMs: 10000 });
await new Promise((resolve) => worker.once('exit', resolve));
let typed = false;
try { new Mutex(new Int32Array(2), 0); } catch (e) { typed = e instanceof InvalidArgumentError && e.field === 'view'; }
console.log(JSON.stringify({
  counter: counter[0], expected: rounds * 2, reply: Array.from(reply), typed,
  sameClass: shm.Mutex === Mutex,
}));
`;

const WORKER = `
import { workerData } from 'node:worker_threads';
import { Mutex, SharedChannel } from 'atomvisor';
const mutex = Mutex.from(workerData.mutex);
const channel = SharedChannel.from(workerData.channel);
for (let i = 0; i < 2000; i++) {
  mutex.lock();
  workerData.counter[0] = workerData.counter[0] + 1;
  mutex.unlock();
}
channel.send([42, workerData.counter[0] > 0 ? 1 : 0]);
`;

// A coordinator from the installed package: two replicas of the echo fixture (so both IO workers
// own a child), plain requests, a lease, a snapshot, both IO workers crashed and replaced (a
// second start of dist/workers/io-worker.js, whose children restart), then close — after which the script must exit by
// itself (no worker or child left holding the event loop).
const COORDINATOR = `
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { createCoordinator, ConnectionLostError } from 'atomvisor';
import { createMetrics } from 'atomvisor/metrics';

// Alive and not a zombie (children of a crashed IO worker may stay unreaped until we exit).
const alive = (pid) => {
  try { process.kill(pid, 0); } catch { return false; }
  try {
    const stat = readFileSync('/proc/' + pid + '/stat', 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch { return process.platform !== 'linux'; }
};
const waitUntil = async (condition, what) => {
  const deadline = Date.now() + 20000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out waiting until ' + what);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
};
const require = createRequire(import.meta.url);
let tsxResolvable = true;
try { require.resolve('tsx'); } catch { tsxResolvable = false; }

const c = createCoordinator({
  ioWorkers: 2,
  stop: { stdinGraceMs: 500, termGraceMs: 500 },
  restart: { initialDelayMs: 10, maxDelayMs: 100 },
});
const exits = [];
c.on('exit', (e) => exits.push({ expected: e.expected, code: e.code, signal: e.signal }));
const metrics = createMetrics(c);
await c.register('echo', {
  command: process.execPath,
  args: [fileURLToPath(new URL('./fixtures/echo-server.mjs', import.meta.url))],
  initialize: {
    method: 'initialize',
    params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'user-app', version: '0' } },
    notification: { method: 'notifications/initialized' },
  },
}, { replicas: 2 });
const echoed = await c.request('echo', 'echo', { hello: 'world' });
const many = await Promise.all(Array.from({ length: 100 }, (_, i) => c.request('echo', 'echo', { i })));
const leased = await c.withConnection('echo', async (lease) => ({
  leasePid: lease.pid,
  serverPid: await lease.request('pid'),
  status: c.snapshot('echo').replicas.find((r) => r.pid === lease.pid)?.status,
}));
const snap = c.snapshot('echo');
const pids = snap.replicas.map((r) => r.pid);

await Promise.all([c.crashIoWorker(0), c.crashIoWorker(1)]);
await waitUntil(() => {
  const s = c.snapshot('echo');
  return s.replicas.every((r) => r.status === 'ready' && !pids.includes(r.pid));
}, 'every replica is ready again under new processes');
const afterCrash = await c.request('echo', 'echo', { again: true });
const stats = c.stats();
const newPids = c.snapshot('echo').replicas.map((r) => r.pid);
const exposition = await metrics.scrape();
metrics.close();
await c.close({ timeoutMs: 2000 });

console.log(JSON.stringify({
  tsxResolvable,
  workerShipped: existsSync(new URL('./node_modules/atomvisor/dist/workers/io-worker.js', import.meta.url)),
  echoed,
  many: many.every((r, i) => r.i === i),
  leased,
  status: snap.status,
  replicas: snap.replicas.map((r) => ({ status: r.status, generation: r.generation, handshake: r.handshake })),
  distinctPids: new Set(pids).size,
  afterCrash,
  requests: stats.requests,
  metricsRequests: exposition.match(/^atomvisor_requests_total\\{key="echo",outcome="ok"\\} (\\d+)$/m)?.[1],
  typedError: typeof ConnectionLostError === 'function',
  exits: exits.filter((e) => e.expected).length,
  leftAlive: [...pids, ...newPids].filter(alive).length,
}));
`;

/** A user's race test file, plain JavaScript against 'atomvisor/race': two actors hit a counter. */
const raceCounter = (hit: string) => `
import { defineRaceTest } from 'atomvisor/race';
const hit = (s) => { ${hit} };
export default defineRaceTest({
  name: 'hits/two-threads',
  setup: () => ({ count: new Int32Array(new SharedArrayBuffer(4)) }),
  actors: [hit, hit],
  arbiter: (s) => Atomics.load(s.count, 0),
  outcomes: [
    { id: '2', expect: 'acceptable', desc: 'both hits counted' },
    { id: '1', expect: 'forbidden', desc: 'a hit was lost' },
  ],
});
`;

let installed: InstalledProject | undefined;
let project = '';

beforeAll(async () => {
  installed = await installPacked();
  project = installed.dir;
  await writeFile(join(project, 'main.mjs'), MAIN);
  await writeFile(join(project, 'worker.mjs'), WORKER);
  await writeFile(join(project, 'coordinator.mjs'), COORDINATOR);
  await writeFile(join(project, 'counter-fixed.mjs'), raceCounter('Atomics.add(s.count, 0, 1);'));
  await writeFile(
    join(project, 'counter-buggy.mjs'),
    raceCounter('Atomics.store(s.count, 0, Atomics.load(s.count, 0) + 1);'),
  );
  await mkdir(join(project, 'fixtures', 'lib'), { recursive: true });
  await copyFile(
    join(repo, 'test', 'fixtures', 'echo-server.mjs'),
    join(project, 'fixtures', 'echo-server.mjs'),
  );
  await copyFile(
    join(repo, 'test', 'fixtures', 'lib', 'serve.mjs'),
    join(project, 'fixtures', 'lib', 'serve.mjs'),
  );
}, 180_000);

afterAll(async () => {
  await installed?.remove();
});

describe('the installed package', () => {
  it('imports with plain node and shares a Mutex and a SharedChannel with a worker', async () => {
    const { stdout } = await run(process.execPath, ['main.mjs'], { cwd: project, timeout: 60_000 });
    const result = JSON.parse(stdout.trim());
    expect(result).toEqual({
      counter: 4000,
      expected: 4000,
      reply: [42, 1],
      typed: true,
      sameClass: true,
    });
  });

  it('runs a coordinator with plain node: IO workers start from the shipped .js entry', async () => {
    const { stdout } = await run(process.execPath, ['coordinator.mjs'], {
      cwd: project,
      timeout: 60_000,
    });
    const result = JSON.parse(stdout.trim());
    const handshake = {
      protocolVersion: '2025-06-18',
      capabilities: { echo: true },
      serverInfo: { name: 'echo-server', version: '1.0.0' },
    };
    expect(result).toEqual({
      tsxResolvable: false,
      workerShipped: true,
      echoed: { hello: 'world' },
      many: true,
      leased: {
        leasePid: result.leased.serverPid,
        serverPid: expect.any(Number),
        status: 'leased',
      },
      status: 'ready',
      replicas: [
        { status: 'ready', generation: 1, handshake },
        { status: 'ready', generation: 1, handshake },
      ],
      distinctPids: 2,
      afterCrash: { again: true },
      requests: { total: 103, failed: 0 },
      metricsRequests: '103', // 'atomvisor/metrics' counted the same requests
      typedError: true,
      // The two replacement processes stopped by close(); the crash-killed ones were unexpected.
      exits: 2,
      leftAlive: 0,
    });
  });

  it('runs a plain .js race test file with atomvisor race, no tsx: exit 0 when fixed, 1 when buggy', async () => {
    const bin = join(project, 'node_modules', '.bin', 'atomvisor');
    const race = (file: string) =>
      run(
        process.execPath,
        [bin, 'race', file, '--mode', 'explore', '--seed', '7', '--time', '1'],
        {
          cwd: project,
          timeout: 60_000,
        },
      ).then(
        () => 0,
        (error: { code?: number }) => error.code ?? -1,
      );
    expect(await race('counter-fixed.mjs')).toBe(0);
    expect(await race('counter-buggy.mjs')).toBe(1);
  });

  it('ships the atomvisor command', async () => {
    const bin = join(project, 'node_modules', '.bin', 'atomvisor');
    const { stdout } = await run(process.execPath, [bin, 'version'], { cwd: project });
    expect(stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('ships the config JSON Schema that run --print-schema prints, where the examples point', async () => {
    const bin = join(project, 'node_modules', '.bin', 'atomvisor');
    const { stdout } = await run(process.execPath, [bin, 'run', '--print-schema'], {
      cwd: project,
    });
    const pkg = join(project, 'node_modules', 'atomvisor');
    const shipped = JSON.parse(
      await readFile(join(pkg, 'schema', 'atomvisor.config.schema.json'), 'utf8'),
    );
    expect(JSON.parse(stdout)).toEqual(shipped);
    expect(shipped).toMatchObject({ title: 'atomvisor run config' });
    const example = JSON.parse(
      await readFile(join(pkg, 'examples', 'three-servers.config.json'), 'utf8'),
    ) as { $schema: string };
    expect(resolve(pkg, 'examples', example.$schema)).toBe(
      join(pkg, 'schema', 'atomvisor.config.schema.json'),
    );
  });

  it('ships types and no TypeScript sources', async () => {
    const files = await readdir(join(project, 'node_modules', 'atomvisor', 'dist', 'src', 'shm'));
    expect(files).toContain('mutex.d.ts');
    expect(files.some((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))).toBe(false);
    const workers = await readdir(join(project, 'node_modules', 'atomvisor', 'dist', 'workers'));
    expect(workers).toContain('io-worker.js');
    expect(workers.some((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))).toBe(false);
  });
});
