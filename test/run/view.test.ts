/**
 * The live view in a real terminal: `atomvisor run` under a pseudo-terminal (util-linux `script`
 * gives the command a real pty) draws its table on the alternate screen, redraws it as the
 * servers come up, and a Ctrl-C typed into the terminal (the pty turns it into SIGINT) restores
 * the screen and closes gracefully. Without a TTY it prints log lines instead (signals.test.ts).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ECHO, isAlive, STUBBORN, waitUntil } from '../helpers/processes.ts';
import { descendants, EXAMPLE_CONFIG, killAll, start } from './helpers.ts';

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

describe('live view', () => {
  it('renders a refreshing table in a real terminal and leaves it cleanly on Ctrl-C', async () => {
    const command = [
      process.execPath,
      '--import',
      'tsx',
      'src/cli/main.ts',
      'run',
      EXAMPLE_CONFIG,
      '--http-port',
      '0',
    ]
      .map(quote)
      .join(' ');
    // `script` runs the command through $SHELL -c. dash does not exec a lone command: it would
    // stay in the terminal's foreground group, die of the Ctrl-C itself, and script would report
    // 130 while atomvisor was still closing. `exec` makes the command the terminal's process
    // under any shell.
    const shellCommand = `exec ${command}`;
    const tablePids = (out: string) => {
      const last = frames(out).at(-2) ?? '';
      return [...last.matchAll(/^(?:text#\d|warming|kv)\s+\S+\s+(\d+)\s/gm)].map((m) =>
        Number(m[1]),
      );
    };
    const run = start(['script', '-qfec', shellCommand, '/dev/null'], {
      env: { ...process.env, TERM: 'xterm-256color' },
      pids: (h) => tablePids(h.stdout()),
    });

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
      /^atomvisor run .*three-servers\.config\.json .* ready .* http:\/\/127\.0\.0\.1:\d+/m,
    );
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
    const command = [process.execPath, '--import', 'tsx', 'src/cli/main.ts', 'run', config]
      .map(quote)
      .join(' ');
    const run = start(['script', '-qfec', `exec ${command}`, '/dev/null'], {
      env: { ...process.env, TERM: 'xterm-256color' },
    });
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
});
