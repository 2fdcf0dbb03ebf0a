/**
 * examples/ and `npx atomvisor run` from the packed tarball, the way a user meets them: the
 * package (and tsx) installed into an empty project, examples/ copied out of
 * node_modules/atomvisor.
 *
 * - examples/http-service.ts (importing 'atomvisor' and 'atomvisor/metrics') serves requests
 *   through the coordinator, and SIGTERM leaves none of its servers behind.
 * - `npx atomvisor run examples/three-servers.config.json` is npm exec → sh -c → node. A SIGTERM
 *   to the npx process ends npm and the shell only; atomvisor must notice its parent went away and
 *   shut down within its stop deadline: no atomvisor process and no server of it left (pids
 *   checked). The same when the shell between npm and node is SIGKILLed. With --detach it keeps
 *   running (and serving) after its launcher is gone.
 * - examples/lsp.ts, acp-broker.ts and mcp-sampling.ts (issue 12: talking both ways) against the
 *   real servers of the repo's devDependencies (typescript-language-server with TypeScript 5, an
 *   ACP agent on @agentclientprotocol/sdk, @modelcontextprotocol/server-everything), given by
 *   absolute path since the user's project does not have them: each exits 0, prints what it
 *   shows, and leaves no server behind.
 */
import { cp, readFile } from 'node:fs/promises';
import { request } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { procStat } from '../../src/io/process-group.ts';
import { fixture, groupAlive, isAlive, waitUntil } from '../helpers/processes.ts';
import {
  descendants,
  get,
  jsonEvents,
  killAll,
  parsePrometheus,
  type RunHandle,
  sampleValue,
  spawnedPids,
  start,
} from '../run/helpers.ts';
import { type InstalledProject, installPacked, REPO } from './packed.ts';

let installed: InstalledProject | undefined;
let project = '';

beforeAll(async () => {
  const tsx = JSON.parse(await readFile(join(REPO, 'node_modules/tsx/package.json'), 'utf8')) as {
    version: string;
  };
  installed = await installPacked([`tsx@${tsx.version}`]);
  project = installed.dir;
  await cp(join(project, 'node_modules', 'atomvisor', 'examples'), join(project, 'examples'), {
    recursive: true,
  });
}, 180_000);

afterEach(killAll);
afterAll(async () => {
  await installed?.remove();
});

const complete = (out: string) => out.slice(0, out.lastIndexOf('\n') + 1);
const cmdline = (pid: number) =>
  readFile(`/proc/${pid}/cmdline`, 'utf8').then(
    (text) => text.split('\0').join(' '),
    () => '',
  );

function post(url: string, body: unknown): Promise<{ status: number; json: unknown }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

describe('examples, from the installed package', () => {
  it('examples/http-service.ts imports atomvisor, serves through the coordinator, and stops its servers on SIGTERM', async () => {
    const source = await readFile(join(project, 'examples', 'http-service.ts'), 'utf8');
    expect(source).toMatch(/from 'atomvisor';/);
    expect(source).toMatch(/from 'atomvisor\/metrics';/);
    expect(source).not.toMatch(/\.\.\/src/);
    const service = start([process.execPath, '--import', 'tsx', 'examples/http-service.ts'], {
      cwd: project,
    });
    const url = await service.waitFor(
      (out) => /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(out)?.[1],
      'the service listens',
      60_000,
    );
    // Its servers are its own children (spawned by its IO worker threads): 3 text + 1 kv.
    const children: number[] = [];
    for (const pid of descendants(service.child.pid as number))
      if ((await cmdline(pid)).includes('examples/servers/')) children.push(pid);
    expect(children).toHaveLength(4);

    for (let i = 0; i < 6; i++) {
      const r = await post(`${url}/upper`, { text: `hello ${i}` });
      expect(r.status).toBe(200);
      const { text, pid } = r.json as { text: string; pid: number };
      expect(text).toBe(`HELLO ${i}`);
      expect(children).toContain(pid); // answered by one of its own servers
    }
    const session = await post(`${url}/session`, { key: 'a', value: 42 });
    expect(session).toEqual({ status: 200, json: { key: 'a', value: 42 } });
    expect((await get(`${url}/readyz`)).status).toBe(200);
    expect((await get(`${url}/nope`)).status).toBe(404);
    // Its /metrics ('atomvisor/metrics'): the 6 plain requests and the 2 of the session.
    const metrics = await get(`${url}/metrics`);
    const families = parsePrometheus(metrics.body);
    expect(sampleValue(families, 'atomvisor_requests_total', { key: 'text', outcome: 'ok' })).toBe(
      6,
    );
    expect(sampleValue(families, 'atomvisor_requests_total', { key: 'kv', outcome: 'ok' })).toBe(2);
    expect(sampleValue(families, 'atomvisor_ready_replicas', { key: 'text' })).toBe(3);

    service.child.kill('SIGTERM');
    expect((await service.exited).code).toBe(0);
    expect(service.stdout()).toMatch(/"event":"closed"/);
    await waitUntil(() => children.every((pid) => !isAlive(pid)), 'no server is left', 5_000);
  }, 90_000);
});

/** `npx atomvisor run examples/three-servers.config.json --json --http-port 0 ...extra`. */
async function npxRun(extra: string[] = []) {
  const run = start(
    [
      'npx',
      'atomvisor',
      'run',
      'examples/three-servers.config.json',
      '--json',
      '--http-port',
      '0',
      ...extra,
    ],
    {
      cwd: project,
      env: { ...process.env, NPM_CONFIG_UPDATE_NOTIFIER: 'false', NPM_CONFIG_FUND: 'false' },
      // npx's own tree may be gone by cleanup time: atomvisor and its servers by pid.
      pids: (h) => {
        const events = jsonEvents(complete(h.stdout()));
        const own = events.find((e) => e.event === 'config')?.pid as number | undefined;
        return [...(own === undefined ? [] : [own]), ...spawnedPids(complete(h.stdout()))];
      },
    },
  );
  await run.waitFor((out) => out.includes('"event":"started"'), 'the servers started', 60_000);
  const events = jsonEvents(complete(run.stdout()));
  const atomvisor = events.find((e) => e.event === 'config')?.pid as number;
  const url = events.find((e) => e.event === 'listening')?.url as string;
  const servers = spawnedPids(complete(run.stdout()));
  expect(servers).toHaveLength(4);
  // The tree as the issue describes it: npm exec → sh -c atomvisor … → node (atomvisor).
  const shell = procStat(String(atomvisor))?.ppid as number;
  expect(await cmdline(shell)).toMatch(/^(\/bin\/)?sh -c /);
  expect(procStat(String(shell))?.ppid).toBe(run.child.pid);
  expect(await cmdline(run.child.pid as number)).toMatch(/npm exec atomvisor run/);
  return { run, atomvisor, shell, url, servers };
}

/** The shutdown deadline of the example config (5 s drain + 1 s + 1 s grace + 3 s) and ~1 s to notice. */
const DEADLINE_MS = 11_000;

async function everythingGone(run: RunHandle, pids: number[]) {
  const since = performance.now();
  await waitUntil(
    () => pids.every((pid) => !isAlive(pid)),
    'no atomvisor process and no server is left',
    DEADLINE_MS + 2_000,
  );
  expect(performance.now() - since).toBeLessThan(DEADLINE_MS + 2_000);
  // It closed, not crashed: the close is logged (npx itself may be long gone: poll the output).
  await waitUntil(() => run.stdout().includes('"event":"closed"'), 'the close is logged');
  return jsonEvents(complete(run.stdout()));
}

describe('npx atomvisor run, from the installed package', () => {
  it('SIGTERM to the npx process: atomvisor notices its launcher is gone and stops everything', async () => {
    const { run, atomvisor, shell, servers } = await npxRun();
    run.child.kill('SIGTERM');
    const events = await everythingGone(run, [
      run.child.pid as number,
      shell,
      atomvisor,
      ...servers,
    ]);
    expect(events.find((e) => e.event === 'parent-exited')).toMatchObject({
      parent: shell,
      detached: false,
    });
    expect(events.find((e) => e.event === 'shutdown')?.reason).toBe(
      `parent process ${shell} exited`,
    );
    expect(events.filter((e) => e.event === 'exit').every((e) => e.expected === true)).toBe(true);
  }, 120_000);

  it('SIGKILL of the shell between npm and atomvisor: the same', async () => {
    const { run, atomvisor, shell, servers } = await npxRun();
    process.kill(shell, 'SIGKILL');
    const events = await everythingGone(run, [shell, atomvisor, ...servers]);
    expect(events.find((e) => e.event === 'parent-exited')).toMatchObject({ parent: shell });
  }, 120_000);

  it('--detach: it keeps running and serving after its launcher is gone', async () => {
    const { run, atomvisor, shell, url, servers } = await npxRun(['--detach']);
    run.child.kill('SIGTERM');
    // It noticed (so the check ran), and stayed.
    const noticed = () =>
      jsonEvents(complete(run.stdout())).find((e) => e.event === 'parent-exited');
    await waitUntil(() => noticed() !== undefined, 'it noticed its parent went away');
    expect(noticed()).toMatchObject({ parent: shell, detached: true });
    await waitUntil(() => !isAlive(run.child.pid as number), 'npx is gone');
    expect(isAlive(atomvisor)).toBe(true);
    expect(servers.every((pid) => isAlive(pid))).toBe(true);
    expect((await get(`${url}/healthz`)).status).toBe(200);
    expect(jsonEvents(complete(run.stdout())).some((e) => e.event === 'shutdown')).toBe(false);
    // Its own pid still stops it as before.
    process.kill(atomvisor, 'SIGTERM');
    const events = await everythingGone(run, [atomvisor, ...servers]);
    expect(events.find((e) => e.event === 'shutdown')?.reason).toBe('SIGTERM');
  }, 120_000);
});

const fromRepo = createRequire(join(REPO, 'package.json'));
const packageDir = (name: string) => dirname(fromRepo.resolve(`${name}/package.json`));

/**
 * `npx tsx examples/NAME ...argv` as the user runs it (node --import tsx: the same loader, no npm
 * in between), to the end: its exit code 0 and its output. The servers it reported (`pids` of its
 * output) must be gone, process groups included.
 */
async function runExample(
  name: string,
  argv: string[],
  pids: (stdout: string) => number[],
  env: Record<string, string> = {},
): Promise<string> {
  const source = await readFile(join(project, 'examples', name), 'utf8');
  expect(source).toMatch(/from 'atomvisor';/);
  expect(source).not.toMatch(/\.\.\/src/);
  const example = start([process.execPath, '--import', 'tsx', `examples/${name}`, ...argv], {
    cwd: project,
    env: { ...process.env, ...env },
    pids: (h) => pids(h.stdout()),
  });
  const exit = await example.exited;
  const out = example.stdout();
  expect(exit, `${name} failed\n--- stdout:\n${out}\n--- stderr:\n${example.stderr()}`).toEqual({
    code: 0,
    signal: null,
  });
  const servers = pids(out);
  expect(servers.length).toBeGreaterThan(0);
  await waitUntil(
    () => servers.every((pid) => !isAlive(pid) && !groupAlive(pid)),
    `no server of ${name} is left`,
    5_000,
  );
  return out;
}

const pidsIn = (out: string, pattern: RegExp) =>
  [...out.matchAll(pattern)].map((m) => Number(m[1]));

describe('the two-way examples, from the installed package, against real servers', () => {
  it('examples/lsp.ts: typescript-language-server hovers and reports the type error on one lease', async () => {
    const out = await runExample(
      'lsp.ts',
      [process.execPath, join(packageDir('typescript-language-server'), 'lib/cli.mjs'), '--stdio'],
      (text) =>
        /^language servers ready: pids (.*)$/m.exec(text)?.[1]?.split(', ').map(Number) ?? [],
      // TypeScript 7 (this repo's compiler) has no tsserver.js: the language server gets 5's.
      { TSSERVER_PATH: fromRepo.resolve('typescript5/lib/tsserver.js') },
    );
    expect(out).toMatch(/^language servers ready: pids \d+, \d+$/m);
    expect(out).toMatch(/^replica [01] \(pid \d+\) hover: const greeting: Greeting$/m);
    expect(out).toMatch(
      /^main\.ts:5:7 TS2322: Type 'string' is not assignable to type 'number'\.$/m,
    );
  }, 120_000);

  it('examples/acp-broker.ts: two chat sessions on two leases, each with its own updates and permission answer', async () => {
    for (const agent of [
      [process.execPath, fixture('acp-agent.mjs')], // on @agentclientprotocol/sdk
      [], // the example's own agent (examples/servers/acp-agent.mjs)
    ]) {
      const out = await runExample('acp-broker.ts', agent, (text) =>
        pidsIn(text, /on replica \d \(pid (\d+)\)/g),
      );
      const lines = out.split('\n');
      const sessions = new Map<string, string>(); // user -> sessionId
      for (const m of out.matchAll(/^\[(\w+)\] (session-\S+) on replica (\d)/gm))
        sessions.set(m[1] as string, m[2] as string);
      expect([...sessions.keys()].sort()).toEqual(['ada', 'bob']);
      expect(new Set(sessions.values()).size).toBe(2);
      for (const [user, sessionId] of sessions) {
        const own = lines.filter((l) => l.startsWith(`[${user}] `));
        // Every update this user's handler printed came from this user's session.
        const updates = own.filter((l) => /^\[\w+\] session-\S+: /.test(l));
        expect(updates.length).toBeGreaterThanOrEqual(5);
        for (const l of updates) expect(l.startsWith(`[${user}] ${sessionId}: `)).toBe(true);
        if (agent.length > 0)
          expect(updates.map((l) => l.slice(l.indexOf(': ') + 2))).toEqual(
            [1, 2, 3, 4, 5].map((i) => `chunk ${i}`),
          );
        // The policy: ada may edit, bob may not; asked once each.
        const asked = own.filter((l) => l.includes('permission for'));
        expect(asked).toHaveLength(1);
        expect(asked[0]).toMatch(user === 'ada' ? /: allow_once$/ : /: reject_once$/);
        expect(own.at(-1)).toBe(`[${user}] turn ended: end_turn`);
      }
    }
  }, 120_000);

  it('examples/mcp-sampling.ts: server-everything gets its sampling answer from the handler, and logs', async () => {
    const out = await runExample(
      'mcp-sampling.ts',
      [
        process.execPath,
        join(packageDir('@modelcontextprotocol/server-everything'), 'dist/index.js'),
        'stdio',
      ],
      (text) => pidsIn(text, /^sampling asked by pid (\d+)/gm),
    );
    expect(out).toMatch(/^sampling asked by pid \d+: ".*What is atomvisor\?"$/m);
    // The tool's result carries the handler's answer back.
    expect(out).toMatch(/^tool result: LLM sampling result:/m);
    expect(out).toContain('"model": "example-rule"');
    expect(out).toMatch(/A model would answer .*What is atomvisor\?.* here\./);
    expect(out).toMatch(/^server log \[\w+\]: \w+[- ]level(-| )message/im);
  }, 120_000);
});
