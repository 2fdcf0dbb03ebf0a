/**
 * The package as a user installs it: `npm pack` (which builds through `prepack`), install the
 * tarball into an empty project, then plain `node` — no tsx, no TypeScript — imports atomvisor and
 * shares a Mutex and a SharedChannel with a worker through their handles.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const repo = fileURLToPath(new URL('../../', import.meta.url));
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

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

let project = '';
let packDir = '';

beforeAll(async () => {
  packDir = await mkdtemp(join(tmpdir(), 'atomvisor-pack-'));
  project = await mkdtemp(join(tmpdir(), 'atomvisor-user-'));
  await run(npm, ['pack', '--silent', '--pack-destination', packDir], { cwd: repo });
  const [tarball] = (await readdir(packDir)).filter((f) => f.endsWith('.tgz'));
  if (tarball === undefined) throw new Error('npm pack produced no tarball');
  await writeFile(
    join(project, 'package.json'),
    JSON.stringify({ name: 'user-app', private: true, type: 'module' }),
  );
  await run(
    npm,
    ['install', '--silent', '--no-audit', '--no-fund', '--prefer-offline', join(packDir, tarball)],
    {
      cwd: project,
    },
  );
  await writeFile(join(project, 'main.mjs'), MAIN);
  await writeFile(join(project, 'worker.mjs'), WORKER);
}, 180_000);

afterAll(async () => {
  await Promise.all(
    [project, packDir].filter(Boolean).map((d) => rm(d, { recursive: true, force: true })),
  );
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

  it('ships the atomvisor command', async () => {
    const bin = join(project, 'node_modules', '.bin', 'atomvisor');
    const { stdout } = await run(process.execPath, [bin, 'version'], { cwd: project });
    expect(stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('ships types and no TypeScript sources', async () => {
    const files = await readdir(join(project, 'node_modules', 'atomvisor', 'dist', 'src', 'shm'));
    expect(files).toContain('mutex.d.ts');
    expect(files.some((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))).toBe(false);
  });
});
