/**
 * One `atomvisor run` once its config has passed: supervise the servers it names, pm2 style, with
 * the embedding's own coordinator, until a shutdown. The parts each own one job — where events go
 * (output.ts), the HTTP endpoint (endpoint.ts), the end (shutdown.ts), the reloads and the running
 * config (reloader.ts), the file watch (config-watch.ts) — and run() wires them in this order,
 * which matters:
 *   1. the whole config is checked before anything starts (command.ts: a broken one starts
 *      nothing);
 *   2. the log directory, signal handlers, the parent watch and the HTTP endpoint come up before
 *      the servers, so /readyz says 503 while they start and a signal (or the launcher going away)
 *      during the start still closes cleanly;
 *   3. servers register concurrently; if one cannot start, everything is closed again (exit 1);
 *   4. on SIGINT/SIGTERM, or when the process that started it goes away (unless detached):
 *      graceful close within the deadline, then SIGKILL every process group left; a second
 *      signal does that at once (shutdown.ts);
 *   5. on SIGHUP (or a change of the file with --watch): the config is read again and only what
 *      changed is applied (reloader.ts, reload.ts); a broken file is refused and the running
 *      config stays. Reloads run one at a time; one asked for meanwhile runs after (reading the
 *      file then).
 * Whatever way run() returns, the signal handlers, the parent watch and the file watch are gone
 * and the terminal is restored.
 */
import type { Coordinator } from '../coordinator/coordinator.ts';
import { createCoordinator } from '../coordinator/coordinator.ts';
import type { RunConfig } from './config.ts';
import { watchConfigFile } from './config-watch.ts';
import { RunEndpoint } from './endpoint.ts';
import { httpOf, logsOf, type RunFlags } from './flags.ts';
import type { Reporter } from './log.ts';
import { headerFields, RunOutput } from './output.ts';
import { describeError, pidsOf } from './reload.ts';
import { Reloader } from './reloader.ts';
import { Shutdown } from './shutdown.ts';
import {
  onShutdownSignals,
  type ShutdownSignal,
  SIGNAL_EXIT_CODES,
  watchParent,
} from './signals.ts';
import { RunStatus } from './status.ts';

/** Run `config` until it is shut down; resolves to the exit code. */
export async function run(config: RunConfig, flags: RunFlags): Promise<number> {
  // The view's MEM column, /status and /metrics show each server group's memory: measured unless
  // the config says housekeeping.measureMemory: false.
  const coordinator = createCoordinator({
    ...config.coordinator,
    housekeeping: { measureMemory: true, ...config.coordinator.housekeeping },
  });
  const status = new RunStatus(coordinator, config.servers);
  // The closures below read `reloads` (the running config), made last: none of them runs before
  // the start (the view draws from output.start(); a shutdown needs a signal or the start).
  const output = new RunOutput(
    {
      coordinator,
      status,
      flags,
      header: () => headerFields(reloads.current, status, endpoint.current),
    },
    logsOf(config, flags),
  );
  const endpoint = new RunEndpoint(coordinator, status, output);
  let stopParentWatch = () => {};
  let stopFileWatch = () => {};
  const shutdown = new Shutdown({
    coordinator,
    status,
    output,
    endpoint,
    timeoutMs: () => flags.shutdownTimeoutMs ?? reloads.current.shutdownTimeoutMs,
    stopTriggers: () => {
      stopParentWatch();
      stopFileWatch();
    },
  });
  const reloads = new Reloader(
    { coordinator, flags, status, output, endpoint, closing: () => shutdown.closing },
    config,
  );

  const removeSignals = onShutdownSignals({
    graceful: (signal: ShutdownSignal) => void shutdown.begin(signal, 0),
    force: (signal: ShutdownSignal) =>
      shutdown.force(`second ${signal}`, SIGNAL_EXIT_CODES[signal]),
    // SIGHUP: reload the config (nginx, pm2's reload of an ecosystem file); while the live view
    // owns the terminal it means the terminal hung up, so it closes gracefully.
    hangup: () => {
      if (output.viewOwnsTerminal) void shutdown.begin('SIGHUP (terminal hung up)', 0);
      else reloads.requestConfigReload('SIGHUP');
    },
    restart: () => reloads.restartAll(),
  });
  // The launcher went away (`npx atomvisor run` under a SIGTERM: npm and its shell end, node is
  // re-parented): shut down as on SIGTERM, unless detached.
  stopParentWatch = watchParent(({ parent, now }) => {
    const detached = flags.detach || reloads.current.detach;
    output.event('parent-exited', { parent, ppid: now, detached });
    if (!detached) void shutdown.begin(`parent process ${parent} exited`, 0);
  });
  if (flags.watch) {
    stopFileWatch = watchConfigFile(
      config.file,
      () => reloads.requestConfigReload('file changed'),
      output,
    );
  }

  try {
    output.start();
    output.event('config', {
      file: config.file,
      servers: config.servers.map((s) => s.name),
      pid: process.pid,
      ...(output.logDir === undefined ? {} : { logDir: output.logDir }),
    });
    const http = httpOf(config, flags);
    if (http !== undefined) await endpoint.start(http);
    const failed = await registerAll(coordinator, config, output);
    reloads.startDone();
    if (!shutdown.closing) {
      if (failed.length > 0) {
        for (const f of failed)
          output.event('register-failed', { key: f.key, error: describeError(f.error) });
        void shutdown.begin('a server could not start', 1);
      } else {
        output.event('started', { servers: config.servers.length, pids: shutdown.pids() });
      }
    }
    return await shutdown.finished;
  } catch (error) {
    output.event('error', { error: describeError(error) });
    await shutdown.begin('internal error', 1);
    return 1;
  } finally {
    removeSignals();
    stopParentWatch();
    stopFileWatch();
    output.detach();
  }
}

/** Register every server of `config` side by side; the ones that could not start, with why. */
async function registerAll(
  coordinator: Coordinator,
  config: RunConfig,
  reporter: Reporter,
): Promise<{ key: string | undefined; error: unknown }[]> {
  const results = await Promise.allSettled(
    config.servers.map((s) =>
      coordinator.register(s.name, s.spec, { replicas: s.replicas }).then(() =>
        reporter.event('registered', {
          key: s.name,
          replicas: s.replicas,
          pids: pidsOf(coordinator, s.name),
        }),
      ),
    ),
  );
  return results.flatMap((r, i) =>
    r.status === 'rejected' ? [{ key: config.servers[i]?.name, error: r.reason }] : [],
  );
}
