/**
 * Log files of `atomvisor run`, as a real process: a server that writes stderr fast (about 8 000
 * lines a second) gets DIR/NAME.log, each line prefixed with the time, its replica and pid,
 * rotated at maxBytes with `keep` rotated files (the oldest deleted), its lines in order; the
 * events go to DIR/atomvisor.log (and no longer carry the server's lines on stdout); and the
 * supervisor's event-loop delay p99 — prom-client's monitorEventLoopDelay histogram, read from
 * /metrics — stays within 2× its idle value while it logs.
 */
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { fixture, isAlive, waitUntil } from '../helpers/processes.ts';
import {
  CLI,
  get,
  jsonEvents,
  killAll,
  parsePrometheus,
  type RunHandle,
  sampleValue,
  spawnedPids,
  start,
} from './helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'atomvisor-run-logs-'));
afterEach(killAll);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const complete = (out: string) => out.slice(0, out.lastIndexOf('\n') + 1);

/** p99 of the event-loop delay (ms) since the previous scrape (prom-client resets it). */
async function loopDelayP99(url: string): Promise<number> {
  const families = parsePrometheus((await get(`${url}/metrics`)).body);
  return (sampleValue(families, 'nodejs_eventloop_lag_p99_seconds') as number) * 1_000;
}

/** The event-loop delay p99 over a window of `ms` (a measurement, not a wait for something). */
async function window(url: string, ms: number, until: () => boolean = () => true) {
  await loopDelayP99(url); // resets the histogram
  const started = performance.now();
  await waitUntil(
    () => performance.now() - started >= ms && until(),
    'the window closed',
    ms + 30_000,
  );
  return loopDelayP99(url);
}

interface LogStats {
  lines: number;
  dropped: number;
  rotations: number;
}

async function logStats(url: string): Promise<Record<string, LogStats>> {
  return (JSON.parse((await get(`${url}/status`)).body) as { logs: Record<string, LogStats> }).logs;
}

describe('log files', () => {
  it('rotate at maxBytes and keep `keep` files under a fast-writing server; the event loop stays responsive', async () => {
    const logDir = join(dir, 'logs');
    const trigger = join(dir, 'chatty-on');
    const maxBytes = 64 * 1024;
    const file = join(dir, 'logs.json');
    writeFileSync(
      file,
      JSON.stringify({
        servers: {
          chatty: {
            command: process.execPath,
            args: [fixture('chatty-server.mjs')],
            env: { CHATTY_WHILE: trigger, CHATTY_LINES: '40', CHATTY_EVERY_MS: '5' },
          },
        },
        // --log-dir overrides the directory; the sizes stay the config's.
        logs: { dir: 'from-config', maxBytes, keep: 3 },
        http: { port: 0 },
        stop: { stdinGraceMs: 1_000, termGraceMs: 1_000 },
      }),
    );
    const run: RunHandle = start([...CLI, 'run', file, '--json', '--log-dir', logDir], {
      pids: (h) => spawnedPids(complete(h.stdout())),
    });
    await run.waitFor((out) => out.includes('"event":"started"'), 'started');
    const url = jsonEvents(complete(run.stdout())).find((e) => e.event === 'listening')
      ?.url as string;
    const [pid] = spawnedPids(complete(run.stdout()));

    // Idle, logging, idle again: the machine is shared and noisy, so "its idle value" is the worse
    // of the two idle windows around the logging one.
    const idleBefore = await window(url, 3_000);
    writeFileSync(trigger, '');
    const logging = await window(url, 3_000, () => {
      const files = readdirSync(logDir);
      return files.includes('chatty.log.3'); // rotated at least 3 times meanwhile
    });
    rmSync(trigger);
    const stats = await logStats(url);
    const idleAfter = await window(url, 3_000);
    const idle = Math.max(idleBefore, idleAfter);
    console.log(
      `event-loop delay p99: idle ${idleBefore.toFixed(1)} / ${idleAfter.toFixed(1)} ms, while logging ${logging.toFixed(1)} ms; chatty.log: ${JSON.stringify(stats['chatty.log'])}`,
    );
    expect(logging).toBeLessThanOrEqual(2 * idle);

    const chatty = stats['chatty.log'] as LogStats;
    expect(chatty.rotations).toBeGreaterThanOrEqual(3);
    expect(chatty.lines).toBeGreaterThan(5_000);

    // Files: NAME.log and NAME.log.1..3, none beyond, none over maxBytes.
    const files = readdirSync(logDir).sort();
    expect(files).toEqual([
      'atomvisor.log',
      'chatty.log',
      'chatty.log.1',
      'chatty.log.2',
      'chatty.log.3',
    ]);
    expect(existsSync(join(dir, 'from-config'))).toBe(false);
    const kept = ['chatty.log.3', 'chatty.log.2', 'chatty.log.1', 'chatty.log'];
    for (const name of kept)
      expect(statSync(join(logDir, name)).size).toBeLessThanOrEqual(maxBytes);
    // Every line: time, replica, pid, stream; the server's lines numbered in order, no gap but
    // where a drop marker says lines were dropped.
    const text = kept.map((name) => readFileSync(join(logDir, name), 'utf8')).join('');
    const lines = text.trimEnd().split('\n');
    let previous = 0;
    for (const l of lines) {
      if (/ atomvisor: \d+ lines dropped /.test(l)) {
        previous = -1; // a gap may follow
        continue;
      }
      const m = new RegExp(`^\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z #0 pid=${pid} stderr: (.*)$`).exec(l);
      expect(m, l).not.toBeNull();
      const n = /^line (\d+) x+$/.exec(m?.[1] as string);
      if (n === null) continue; // the server's own messages ("... up")
      const value = Number(n[1]);
      if (previous > 0) expect(value).toBe(previous + 1);
      previous = value;
    }
    // The server's lines went to its file, not to stdout.
    expect(run.stdout()).not.toContain('"event":"stderr"');

    run.child.kill('SIGTERM');
    expect(await run.exited).toEqual({ code: 0, signal: null });
    await waitUntil(() => !isAlive(pid as number), 'the server is gone');
    // The event log has the same events as stdout, the close included.
    const events = readFileSync(join(logDir, 'atomvisor.log'), 'utf8').trimEnd().split('\n');
    const names = events.map((l) => (JSON.parse(l) as { event: string }).event);
    expect(names).toEqual(jsonEvents(run.stdout()).map((e) => e.event));
    expect(names).toContain('started');
    expect(names.at(-1)).toBe('closed');
  }, 120_000);
});
