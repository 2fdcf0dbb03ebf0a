/**
 * The live view in a real terminal: `atomvisor run` under a pseudo-terminal (util-linux `script`
 * gives the command a real pty) draws its table on the alternate screen, redraws it as the
 * servers come up, and a Ctrl-C typed into the terminal (the pty turns it into SIGINT) restores
 * the screen and closes gracefully. Without a TTY it prints log lines instead (signals.test.ts).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ReplicaRow } from '../../src/run/status.ts';
import { elidePath, fitHeader, layoutTable, tableCells } from '../../src/run/view.ts';
import { ECHO, isAlive, STUBBORN, waitUntil } from '../helpers/processes.ts';
import { descendants, EXAMPLE_CONFIG, killAll, type RunHandle, start } from './helpers.ts';

afterEach(killAll);

const ESC = '\u001b';
const strip = (text: string) =>
  text.replace(new RegExp(`${ESC}\\[[0-9;?]*[A-Za-z]`, 'g'), '').replace(/\r/g, '');

/** The frames drawn so far (each starts with cursor-home), escape sequences removed. */
function frames(out: string): string[] {
  return out
    .split(`${ESC}[H`)
    .slice(1)
    .map((frame) => strip(frame));
}

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** Columns a line takes (every character the view draws is one column wide). */
const columns = (line: string) => [...line].length;

/**
 * Run `argv` on a real terminal of `cols` × `rows` (util-linux `script` gives it a pty; `stty` sets
 * its size, so the test does not depend on script's default or the machine's terminal). `script`
 * runs the command through $SHELL -c: /bin/sh here, whatever the caller's $SHELL is (or is not).
 * dash does not exec a lone command: it would stay in the terminal's foreground group, die of a
 * Ctrl-C itself, and script would report 130 while atomvisor was still closing. `exec` makes the
 * command the terminal's process under any shell.
 */
function onTerminal(
  argv: string[],
  size: { cols: number; rows: number },
  options: { pids?: (handle: RunHandle) => number[] } = {},
) {
  const command = `stty cols ${size.cols} rows ${size.rows} && exec ${argv.map(quote).join(' ')}`;
  return start(['script', '-qfec', command, '/dev/null'], {
    env: { ...process.env, TERM: 'xterm-256color', SHELL: '/bin/sh' },
    ...options,
  });
}

describe('live view', () => {
  it('renders a refreshing table in a real terminal and leaves it cleanly on Ctrl-C', async () => {
    const tablePids = (out: string) => {
      const last = frames(out).at(-2) ?? '';
      return [...last.matchAll(/^(?:text#\d|warming|kv)\s+\S+\s+(\d+)\s/gm)].map((m) =>
        Number(m[1]),
      );
    };
    const cols = 120;
    const run = onTerminal(
      [
        process.execPath,
        '--import',
        'tsx',
        'src/cli/main.ts',
        'run',
        EXAMPLE_CONFIG,
        '--http-port',
        '0',
      ],
      { cols, rows: 40 },
      { pids: (h) => tablePids(h.stdout()) },
    );

    // Wait for a complete frame where every replica is ready and the warming server's startup
    // and readiness probes have passed.
    const frame = await run.waitFor((out) => {
      const all = frames(out);
      const done = all.slice(0, -1).reverse(); // the last one may still be arriving
      return done.find(
        (f) =>
          /^warming\s+ready\s+\d+\s+\S+\s+\S+\s+\S+\s+0\s+S✓ R✓/m.test(f) &&
          /^text#0\s+ready\s+\d+\s+\d+s\s+\d+%\s+\d+M\s/m.test(f) && // CPU and memory measured
          (f.match(/^(?:text#[01]|kv)\s+ready\s+\d+/gm) ?? []).length === 3,
      );
    }, 'a frame with every replica ready');

    expect(run.stdout()).toContain(`${ESC}[?1049h`); // the alternate screen
    expect(frame).toMatch(
      /^atomvisor run .*three-servers\.config\.json .* 4\/4 ready .* http:\/\/127\.0\.0\.1:\d+/m,
    );
    // Nothing drawn past the terminal's edge, whatever the checkout's path.
    for (const f of frames(run.stdout()).slice(0, -1))
      for (const line of f.split('\n')) expect(columns(line)).toBeLessThanOrEqual(cols);
    expect(frame).toMatch(
      /^NAME\s+STATUS\s+PID\s+UPTIME\s+CPU\s+MEM\s+RESTARTS\s+PROBES\s+LEASE\/IN-FLIGHT\s+LAST ERROR/m,
    );
    // CPU (% of a core since the last check) and MEM: the whole process group's (a Node server:
    // tens of MiB).
    expect(frame).toMatch(/^text#0\s+ready\s+\d+\s+\d+s\s+\d+%\s+\d+M\s+0\s+L✓\s+- \/ 0/m);
    expect(frame).toMatch(/^recent events:/m);
    // Earlier frames showed the warming server out of service while its startup probe failed.
    expect(frames(run.stdout()).some((f) => /^warming\s+ready\(unready\)/m.test(f))).toBe(true);
    // It refreshes: several frames were drawn.
    expect(frames(run.stdout()).length).toBeGreaterThan(2);

    const pids = tablePids(run.stdout());
    expect(pids).toHaveLength(4);
    run.child.stdin?.write('\u0003'); // Ctrl-C, typed into the terminal
    const exit = await run.exited;
    const tail = strip(run.stdout().slice(run.stdout().lastIndexOf(`${ESC}[?1049l`)));
    expect(exit, `after Ctrl-C:\n${tail}`).toEqual({ code: 0, signal: null });
    const after = run.stdout().slice(run.stdout().lastIndexOf(`${ESC}[?1049l`));
    expect(after).toMatch(/shutdown reason=SIGINT/);
    expect(after).toMatch(/closed ms=\d+/);
    await waitUntil(() => pids.every((pid) => !isAlive(pid)), 'no server process is left', 5_000);
  }, 60_000);
  it('closing the terminal (a hang-up) closes atomvisor gracefully: even a stubborn server goes', async () => {
    // A server that ignores stdin EOF and SIGTERM survives its supervisor's abrupt death (it has
    // its own process group); only the graceful close's escalation to SIGKILL ends it.
    const dir = mkdtempSync(join(tmpdir(), 'atomvisor-hangup-'));
    const config = join(dir, 'hangup.json');
    writeFileSync(
      config,
      JSON.stringify({
        servers: {
          stubborn: { command: process.execPath, args: [STUBBORN] },
          echo: { command: process.execPath, args: [ECHO] },
        },
        stop: { stdinGraceMs: 300, termGraceMs: 300 },
      }),
    );
    const run = onTerminal(
      [process.execPath, '--import', 'tsx', 'src/cli/main.ts', 'run', config],
      { cols: 100, rows: 30 },
    );
    let servers: number[] = [];
    try {
      await run.waitFor(
        (out) => frames(out).some((f) => (f.match(/^\S+\s+ready\s+\d+\s/gm) ?? []).length === 2),
        'a frame with both servers ready',
      );
      const scriptPid = run.child.pid as number;
      const cmdline = (pid: number) => {
        try {
          return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
        } catch {
          return '';
        }
      };
      const atomvisor = descendants(scriptPid).find((pid) =>
        cmdline(pid).includes('src/cli/main.ts'),
      ) as number;
      expect(atomvisor).toBeGreaterThan(0);
      servers = descendants(atomvisor).filter((pid) => /-server\.mjs/.test(cmdline(pid)));
      expect(servers).toHaveLength(2);
      // The terminal goes away: the pty's master closes and the kernel sends SIGHUP to atomvisor.
      process.kill(scriptPid, 'SIGKILL');
      await waitUntil(() => !isAlive(atomvisor), 'atomvisor exited', 20_000);
      await waitUntil(() => servers.every((pid) => !isAlive(pid)), 'no server is left', 5_000);
    } finally {
      // What a failed run left behind (the stubborn one outlives an abrupt exit).
      for (const pid of servers) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone, as it should be
        }
      }
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('fits a narrow terminal under a long config path: the ready count and the URL stay, no line wraps', async () => {
    // A config in a directory whose path alone is over 150 characters.
    const top = mkdtempSync(join(tmpdir(), 'atomvisor-narrow-'));
    const deep = join(top, 'a-rather-long-directory-name-for-the-config'.repeat(4));
    mkdirSync(deep, { recursive: true });
    const config = join(deep, 'narrow.config.json');
    expect(config.length).toBeGreaterThan(150);
    writeFileSync(
      config,
      JSON.stringify({
        servers: {
          'a-server-with-a-long-name': { command: process.execPath, args: [ECHO], replicas: 2 },
          b: { command: process.execPath, args: [ECHO] },
        },
        stop: { stdinGraceMs: 300, termGraceMs: 300 },
      }),
    );
    const cols = 60;
    try {
      const run = onTerminal(
        [process.execPath, '--import', 'tsx', 'src/cli/main.ts', 'run', config, '--http-port', '0'],
        { cols, rows: 24 },
        {
          pids: (h) =>
            [...(frames(h.stdout()).at(-2) ?? '').matchAll(/^\S+\s+ready\s+(\d+)/gm)].map((m) =>
              Number(m[1]),
            ),
        },
      );
      const frame = await run.waitFor(
        (out) =>
          frames(out)
            .slice(0, -1)
            .reverse()
            .find((f) => /^\S.* 3\/3 ready .*http:\/\/127\.0\.0\.1:\d+/m.test(f)),
        'a frame with every replica ready',
      );
      const [head, , labels, ...rest] = frame.split('\n');
      expect(head).toMatch(/ 3\/3 ready .*http:\/\/127\.0\.0\.1:\d+/);
      expect(labels).toMatch(/^NAME\s+STATUS\s/);
      expect(rest.filter((l) => /^\S+\s+ready\s+\d+/.test(l))).toHaveLength(3);
      for (const f of frames(run.stdout()).slice(0, -1))
        for (const line of f.split('\n')) expect(columns(line)).toBeLessThanOrEqual(cols);
      run.child.stdin?.write('\u0003');
      expect(await run.exited).toEqual({ code: 0, signal: null });
    } finally {
      rmSync(top, { recursive: true, force: true });
    }
  }, 60_000);
});

/** A replica row as RunStatus makes them (data, for the layout functions). */
function row(name: string, extra: Partial<ReplicaRow> = {}): ReplicaRow {
  return {
    name,
    key: name,
    replica: 0,
    slot: 0,
    status: 'ready',
    unready: false,
    ready: true,
    pid: 123456,
    generation: 1,
    uptimeMs: 3_723_000,
    restarts: 12,
    probes: { startup: { state: 'ok', failures: 0 }, liveness: { state: 'failing', failures: 3 } },
    leaseId: 17,
    leaseAgeMs: 4_000,
    inFlight: 2,
    waiters: 0,
    rssBytes: 48 * 2 ** 20,
    cpuPercent: 12.4,
    lastError: { message: 'exited with code 1: something went wrong in a long way', at: '' },
    ...extra,
  };
}

describe('the view fits any width', () => {
  const file = `/tmp/${'x'.repeat(140)}/examples/three-servers.config.json`;
  const fields = {
    file,
    pid: 4242,
    state: '3/4 ready',
    url: 'http://127.0.0.1:39464',
    time: '13:03:41',
  };

  it('the header keeps the ready count and the URL, and the file name while it can', () => {
    for (let width = 20; width <= 240; width++) {
      const line = fitHeader(fields, width);
      expect(columns(line), `width ${width}: ${line}`).toBeLessThanOrEqual(width);
      if (width >= 34) {
        expect(line).toContain('3/4 ready');
        expect(line).toContain('http://127.0.0.1:39464');
      }
      if (width >= 80) expect(line).toMatch(/^atomvisor run \/.*…\/three-servers\.config\.json /);
    }
    expect(fitHeader(fields, 300)).toBe(
      `atomvisor run ${file}  ·  pid 4242  ·  3/4 ready  ·  http://127.0.0.1:39464  ·  13:03:41`,
    );
    expect(elidePath('/srv/app/deep/dir/app.json', 20)).toBe('/srv/app/d…/app.json');
    expect(elidePath('/srv/a.json', 20)).toBe('/srv/a.json');
    expect(elidePath('/a/very-long-file-name.json', 10)).toBe('/a/v….json');
  });

  it('the table shrinks, then drops columns, before a line would wrap', () => {
    const rows = [row('text#0'), row('a-server-with-a-rather-long-name#1'), row('kv')];
    const cells = tableCells(rows);
    const wide = layoutTable(cells, 200);
    expect(wide[0]).toMatch(
      /^NAME\s+STATUS\s+PID\s+UPTIME\s+CPU\s+MEM\s+RESTARTS\s+PROBES\s+LEASE\/IN-FLIGHT\s+LAST ERROR$/,
    );
    expect(wide[1]).toMatch(
      /^text#0\s+ready\s+123456\s+1h02m\s+12%\s+48M\s+12\s+S✓ L✗3\s+#17 4s \/ 2\s+exited/,
    );
    for (let width = 20; width <= 200; width++) {
      const lines = layoutTable(cells, width);
      expect(lines).toHaveLength(4);
      for (const line of lines)
        expect(columns(line), `width ${width}: ${line}`).toBeLessThanOrEqual(width);
      // Columns stay aligned: every heading starts where its cells start.
      const starts = [...(lines[0] as string).matchAll(/\S+/g)].map((m) => m.index);
      expect(lines[0]).toMatch(/^NAME\s+STATUS/);
      for (const line of lines.slice(1)) {
        expect(line).toMatch(/^\S+\s+ready/);
        for (const start of starts.slice(1, 2)) expect(line[(start as number) - 1]).toBe(' ');
      }
    }
    // Narrower: the last error is cut first, then headings shorten and the long name loses its
    // middle (its replica stays readable) before any column goes.
    const at120 = layoutTable(cells, 120);
    expect(at120[0]).toMatch(/RESTARTS\s+PROBES\s+LEASE\/IN-FLIGHT\s+LAST ERROR$/);
    expect(at120[1]).toMatch(/exited with.*…$/);
    const at90 = layoutTable(cells, 90);
    expect(at90[0]).toMatch(
      /^NAME\s+STATUS\s+PID\s+UP\s+CPU\s+MEM\s+RST\s+PROBES\s+LEASE\/IF\s+LAST ERROR$/,
    );
    expect(at90[2]).toMatch(/^a-server-…\S*#1\s+ready/);
    // Very narrow: NAME and STATUS, and what else fits.
    expect(layoutTable(cells, 30)[0]).toMatch(/^NAME\s+STATUS/);
  });
});
