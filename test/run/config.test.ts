/**
 * Config files for `atomvisor run`: a broken one (unknown field, wrong type, missing command, bad
 * probe, bad option value) exits non-zero naming the file, the path in it and the reason, and
 * starts nothing; the API's own semantic checks apply; .js and .ts configs load the same object.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.ts';
import { loadConfig, parseConfig } from '../../src/run/config.ts';
import { fixture } from '../helpers/processes.ts';
import { CLI, killAll, start } from './helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'atomvisor-run-config-'));
const MARKER = fixture('marker-server.mjs');

afterEach(killAll);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
function writeConfig(config: unknown, ext = 'json'): string {
  const file = join(dir, `config-${++n}.${ext}`);
  writeFileSync(file, typeof config === 'string' ? config : JSON.stringify(config, null, 2));
  return file;
}

/** A valid server that records its pid in `marker` when (if ever) it starts. */
const good = (marker: string) => ({
  command: process.execPath,
  args: [MARKER, marker],
  // Ready only once it answers, i.e. after it wrote the marker.
  initialize: { method: 'ping' },
});

function problems(input: unknown): string[] {
  try {
    parseConfig(input, '/x/c.json');
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).message.split('\n');
  }
  throw new Error('accepted');
}

describe('a broken config', () => {
  it.each([
    [
      'unknown field',
      { servers: { bad: { command: 'node', argz: [] } } },
      /: servers\.bad\.argz: unknown field$/m,
    ],
    [
      'wrong type',
      { servers: { bad: { command: 'node', replicas: 'two' } } },
      /: servers\.bad\.replicas: expected a number, got "two"$/m,
    ],
    [
      'missing command',
      { servers: { bad: { args: ['x'] } } },
      /: servers\.bad\.command: is required$/m,
    ],
  ])(
    '(%s) exits 2 with the file, the path and the reason, and starts nothing',
    async (_, broken, expected) => {
      const marker = join(dir, `marker-${++n}`);
      const file = writeConfig({
        ...broken,
        servers: { ok: good(marker), ...(broken as { servers: object }).servers },
      });
      const run = start([...CLI, 'run', file, '--json']);
      const exit = await run.exited;
      expect(exit.code).toBe(2);
      expect(run.stderr()).toMatch(expected);
      expect(run.stderr().startsWith(`${file}: `)).toBe(true);
      expect(run.stdout()).toBe(''); // no event: nothing was started, not even the endpoint
      expect(existsSync(marker)).toBe(false); // the valid server was never spawned
    },
  );

  it('reports every problem at once, in the API words', () => {
    const lines = problems({
      servers: {
        a: { command: 5, liveness: { kind: 'smtp' } },
        b: { command: 'x', readiness: { kind: 'tcp' }, startup: { kind: 'jsonrpc', method: '' } },
      },
      restart: { maxRestarts: -1 },
      nope: true,
    });
    expect(lines).toEqual(
      expect.arrayContaining([
        '/x/c.json: servers.a.command: expected a string, got 5',
        '/x/c.json: servers.a.liveness.kind: expected one of jsonrpc, exec, tcp, http, module, got "smtp"',
        '/x/c.json: servers.b.readiness.port: is required',
        '/x/c.json: servers.b.startup.method: must not be empty',
        '/x/c.json: restart.maxRestarts: must be ≥ 0, got -1',
        '/x/c.json: nope: unknown field',
      ]),
    );
  });

  it('applies the API semantics: the same messages as register() and createCoordinator()', () => {
    expect(
      problems({
        servers: {
          a: { command: 'x', liveness: { kind: 'jsonrpc', method: 'ping', successThreshold: 2 } },
        },
      }),
    ).toEqual([
      '/x/c.json: servers.a.liveness.successThreshold: must be 1 for liveness probes (Kubernetes semantics), got 2',
    ]);
    expect(
      problems({
        servers: { a: { command: 'x' } },
        restart: { initialDelayMs: 500, maxDelayMs: 100 },
      }),
    ).toEqual(['/x/c.json: restart.maxDelayMs: must be ≥ options.restart.initialDelayMs']);
    expect(
      problems({
        servers: { a: { command: 'x', maxMemoryMb: '200M' }, b: { command: 'x', maxMemoryMb: 0 } },
      }),
    ).toEqual([
      '/x/c.json: servers.a.maxMemoryMb: expected a number, got "200M"',
      '/x/c.json: servers.b.maxMemoryMb: must be ≥ 1, got 0',
    ]);
    expect(
      problems({ servers: { a: { command: 'x' } }, housekeeping: { memoryCheckMs: 5 } }),
    ).toEqual([expect.stringMatching(/^\/x\/c\.json: housekeeping\.memoryCheckMs: .*\b5\b/)]);
    expect(problems({ servers: {} })).toEqual(['/x/c.json: servers: name at least one server']);
    expect(problems([])).toEqual(['/x/c.json: expected an object, got an array']);
  });

  it('names a missing file and bad JSON', async () => {
    await expect(loadConfig(join(dir, 'absent.json'))).rejects.toThrow(
      /absent\.json: no such file/,
    );
    const file = writeConfig('{ "servers": ');
    await expect(loadConfig(file)).rejects.toThrow(/config-\d+\.json: not valid JSON/);
  });
});

describe('a good config', () => {
  it('resolves relative paths from its own directory and keeps the API shapes', () => {
    const config = parseConfig(
      {
        servers: {
          a: {
            command: 'node',
            args: ['s.mjs'],
            replicas: 2,
            cwd: 'sub',
            readiness: { kind: 'module', path: 'probe.mjs' },
          },
          b: { command: 'node' },
        },
        http: { port: 0 },
        stateFile: 'state.json',
        restart: { maxRestarts: 3 },
      },
      '/srv/app/atomvisor.config.json',
    );
    expect(config.servers).toEqual([
      {
        name: 'a',
        replicas: 2,
        spec: {
          command: 'node',
          args: ['s.mjs'],
          cwd: '/srv/app/sub',
          readiness: { kind: 'module', path: '/srv/app/probe.mjs' },
        },
      },
      { name: 'b', replicas: 1, spec: { command: 'node', cwd: '/srv/app' } },
    ]);
    expect(config.http).toEqual({ host: '127.0.0.1', port: 0 });
    expect(config.coordinator).toEqual({
      stateFile: '/srv/app/state.json',
      restart: { maxRestarts: 3 },
    });
  });

  it('loads .js and .ts configs exporting the same object (or a function returning it)', async () => {
    const js = writeConfig(
      `export default { servers: { a: { command: 'node', onStart: async () => 'hi' } } };`,
      'mjs',
    );
    const fromJs = await loadConfig(js);
    expect(typeof fromJs.servers[0]?.spec.onStart).toBe('function');
    const ts = writeConfig(
      `const config: { servers: Record<string, { command: string }> } = { servers: { t: { command: 'node' } } };\nexport default () => config;`,
      'ts',
    );
    expect((await loadConfig(ts)).servers.map((s) => s.name)).toEqual(['t']);
    const broken = writeConfig(`export default { servers: { a: { command: 1 } } };`, 'mjs');
    await expect(loadConfig(broken)).rejects.toThrow(
      /config-\d+\.mjs: servers\.a\.command: expected a string/,
    );
  });

  it('(control) the same valid server does start, and writes its marker', async () => {
    const marker = join(dir, `marker-${++n}`);
    const file = writeConfig({ servers: { ok: good(marker) } });
    const run = start([...CLI, 'run', file, '--json']);
    await run.waitFor((out) => out.includes('"event":"started"'), 'the server started');
    expect(existsSync(marker)).toBe(true);
    run.child.kill('SIGTERM');
    expect(await run.exited).toEqual({ code: 0, signal: null });
  });

  it('--check validates without starting anything', async () => {
    const marker = join(dir, `marker-${++n}`);
    const file = writeConfig({ servers: { ok: good(marker) } });
    const run = start([...CLI, 'run', file, '--check']);
    expect(await run.exited).toEqual({ code: 0, signal: null });
    expect(run.stdout()).toMatch(/: ok \(1 servers\)/);
    expect(existsSync(marker)).toBe(false);
  });
});

describe('logs and detach', () => {
  it("takes logs: { dir, maxBytes, keep } (dir from the config file's directory) and detach", () => {
    const config = parseConfig(
      { servers: { a: { command: 'x' } }, logs: { dir: 'logs' }, detach: true },
      '/srv/app/atomvisor.config.json',
    );
    expect(config.logs).toEqual({ dir: '/srv/app/logs', maxBytes: 10 * 2 ** 20, keep: 5 });
    expect(config.detach).toBe(true);
    const other = parseConfig(
      { servers: { a: { command: 'x' } }, logs: { dir: '/var/log/av', maxBytes: 4096, keep: 0 } },
      '/srv/app/c.json',
    );
    expect(other.logs).toEqual({ dir: '/var/log/av', maxBytes: 4096, keep: 0 });
    expect(other.detach).toBe(false);
  });

  it('names the field of a bad logs or detach value', () => {
    expect(
      problems({
        servers: { a: { command: 'x' } },
        logs: { maxBytes: 10, keep: -1, rotate: true },
        detach: 'yes',
      }),
    ).toEqual(
      expect.arrayContaining([
        '/x/c.json: logs.dir: is required',
        '/x/c.json: logs.maxBytes: must be ≥ 1024, got 10',
        '/x/c.json: logs.keep: must be ≥ 0, got -1',
        '/x/c.json: logs.rotate: unknown field',
        '/x/c.json: detach: expected a boolean, got "yes"',
      ]),
    );
    expect(problems({ servers: { a: { command: 'x' } }, logs: { dir: '' } })).toEqual([
      '/x/c.json: logs.dir: must not be empty',
    ]);
  });

  it('with logs, refuses server names whose log files would be the same file', () => {
    expect(
      problems({
        servers: { 'a/b': { command: 'x' }, a_b: { command: 'x' }, atomvisor: { command: 'x' } },
        logs: { dir: 'logs' },
      }),
    ).toEqual([
      '/x/c.json: servers.a_b: its log file a_b.log would also be server "a/b"\'s: rename it',
      "/x/c.json: servers.atomvisor: its log file atomvisor.log would also be atomvisor's own event log: rename it",
    ]);
    // Without log files, those names are fine.
    expect(
      parseConfig({ servers: { atomvisor: { command: 'x' } } }, '/x/c.json').servers,
    ).toHaveLength(1);
  });

  it('a reload imports a .js config anew (no module cache)', async () => {
    const file = writeConfig(`export default { servers: { one: { command: 'node' } } };`, 'mjs');
    expect((await loadConfig(file)).servers.map((s) => s.name)).toEqual(['one']);
    writeFileSync(file, `export default { servers: { two: { command: 'node' } } };`);
    expect((await loadConfig(file)).servers.map((s) => s.name)).toEqual(['one']); // cached
    expect((await loadConfig(file, undefined, { fresh: true })).servers.map((s) => s.name)).toEqual(
      ['two'],
    );
  });
});
