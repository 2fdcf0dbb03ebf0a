/**
 * `atomvisor run [CONFIG]`: supervise the servers a config file names, pm2 style, with the
 * embedding's own coordinator. The order matters:
 *   1. the whole config is checked before anything starts (a broken one starts nothing);
 *   2. the log directory, signal handlers, the parent watch and the HTTP endpoint come up before
 *      the servers, so /readyz says 503 while they start and a signal (or the launcher going away)
 *      during the start still closes cleanly;
 *   3. servers register concurrently; if one cannot start, everything is closed again (exit 1);
 *   4. on SIGINT/SIGTERM, or when the process that started it goes away (unless detached):
 *      graceful close within the deadline, then SIGKILL every process group left; a second
 *      signal does that at once;
 *   5. on SIGHUP (or a change of the file with --watch): the config is read again and only what
 *      changed is applied (reload.ts); a broken file is refused and the running config stays.
 *      Reloads run one at a time; one asked for meanwhile runs after (reading the file then).
 */

import { type FSWatcher, watch } from 'node:fs';
import { access, constants, mkdir } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import type { Coordinator } from '../coordinator/coordinator.ts';
import { createCoordinator } from '../coordinator/coordinator.ts';
import { ConfigError } from '../errors.ts';
import { signalGroup } from '../io/process-group.ts';
import { loadConfig, type RunConfig } from './config.ts';
import { checkLogNames, httpOf, logsOf, parseFlags, RUN_USAGE, type RunFlags } from './flags.ts';
import { type StatusEndpoint, startEndpoint } from './http.ts';
import {
  type Fields,
  formatLine,
  forwardEvents,
  jsonReporter,
  type Reporter,
  textReporter,
} from './log.ts';
import { type LogSettings, RunLogs } from './log-files.ts';
import { createMetrics, type Metrics } from './metrics.ts';
import { applyServers, describeError, diffConfig, pidsOf, sameValue } from './reload.ts';
import { configJsonSchema } from './schema.ts';
import {
  onShutdownSignals,
  type ShutdownSignal,
  SIGNAL_EXIT_CODES,
  watchParent,
} from './signals.ts';
import { RunStatus } from './status.ts';
import { type HeaderFields, LiveView } from './view.ts';

/** How long a config file must stay quiet before --watch reloads it (editors write in steps). */
const WATCH_DEBOUNCE_MS = 300;

export async function main(argv: string[]): Promise<number> {
  let flags: RunFlags | 'help';
  try {
    flags = parseFlags(argv);
  } catch (error) {
    console.error(`atomvisor run: ${(error as Error).message}\n\n${RUN_USAGE}`);
    return 2;
  }
  if (flags === 'help') {
    console.log(RUN_USAGE);
    return 0;
  }
  if (flags.printSchema) {
    console.log(JSON.stringify(configJsonSchema(), null, 2));
    return 0;
  }
  let config: RunConfig;
  try {
    config = await loadConfig(flags.configFile);
    checkLogNames(config, flags);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(error.message);
    return 2;
  }
  if (flags.check) {
    console.log(`${config.file}: ok (${config.servers.length} servers)`);
    return 0;
  }
  const logs = logsOf(config, flags);
  if (logs !== undefined) {
    try {
      await mkdir(logs.dir, { recursive: true });
      await access(logs.dir, constants.W_OK);
    } catch (error) {
      console.error(
        `${config.file}: logs.dir: cannot write to ${logs.dir}: ${(error as Error).message}`,
      );
      return 1;
    }
  }
  return run(config, flags);
}

async function run(initial: RunConfig, flags: RunFlags): Promise<number> {
  /** The config as it runs now: the file's at start, then each reload's (what was applied). */
  let current = initial;
  const config = initial;

  // Output that can no longer be written — a reader that went away (EPIPE), a terminal that hung
  // up (EIO) — must not crash the supervisor and leave its servers without it.
  const ignoreOutputError = () => {};
  process.stdout.on('error', ignoreOutputError);
  // The view's MEM column, /status and /metrics show each server group's memory: measured unless
  // the config says housekeeping.measureMemory: false.
  const coordinator = createCoordinator({
    ...config.coordinator,
    housekeeping: { measureMemory: true, ...config.coordinator.housekeeping },
  });
  const status = new RunStatus(coordinator, config.servers);
  let endpoint: StatusEndpoint | undefined;
  let metrics: Metrics | undefined;

  // The reporter may change once: the live view hands over to log lines when it stops. Every
  // event also goes to DIR/atomvisor.log when there are log files.
  const lines: Reporter = flags.json ? jsonReporter(process.stdout) : textReporter(process.stdout);
  const view =
    !flags.json && flags.view && process.stdout.isTTY
      ? new LiveView(process.stdout, status, () => header(current, status, endpoint))
      : undefined;
  let active: Reporter = view ?? lines;
  let logs: RunLogs | undefined;
  const reporter: Reporter = {
    event: (name, fields = {}) => {
      active.event(name, fields);
      logs?.event(
        flags.json
          ? JSON.stringify({ time: new Date().toISOString(), event: name, ...fields })
          : formatLine(new Date(), name, fields),
      );
    },
  };
  const report = (name: string, fields?: Fields) => reporter.event(name, fields);
  const openLogs = (settings: LogSettings | undefined) => {
    logs = settings === undefined ? undefined : new RunLogs(coordinator, settings, report);
    status.setLogStats(logs === undefined ? undefined : () => logs?.stats());
  };
  openLogs(logsOf(config, flags));
  // A server's stderr goes to its log file when there is one, else to the event stream.
  const stopForwarding = forwardEvents(coordinator, reporter, {
    serverOutput: () => logs === undefined,
  });

  // Every process group we may have to kill ourselves, from spawn to exit.
  const live = new Set<number>();
  coordinator.on('spawn', (e) => live.add(e.pid));
  coordinator.on('exit', (e) => live.delete(e.pid));

  let settle: (code: number) => void = () => {};
  const finished = new Promise<number>((resolve) => {
    settle = resolve;
  });
  let closing: Promise<void> | undefined;
  let forceTimer: NodeJS.Timeout | undefined;
  let watcher: FSWatcher | undefined;
  let watchTimer: NodeJS.Timeout | undefined;
  let stopParentWatch = () => {};

  const leaveView = () => {
    if (view === undefined || active === lines) return;
    view.stop();
    active = lines;
  };
  const force = (reason: string, code: number) => {
    leaveView();
    const pids = [...live];
    reporter.event('force', { reason, killed: pids });
    for (const pid of pids) signalGroup(pid, 'SIGKILL');
    // The coordinator's own close is still running; its workers die with us.
    process.exit(code);
  };
  const shutdown = (reason: string, code: number): Promise<void> => {
    if (closing) return closing;
    status.markShuttingDown();
    leaveView();
    stopParentWatch();
    watcher?.close();
    clearTimeout(watchTimer);
    const shutdownTimeoutMs = flags.shutdownTimeoutMs ?? current.shutdownTimeoutMs;
    const opts = coordinator.options;
    // Drain, then the stop escalation (stdin → SIGTERM → SIGKILL), then a margin.
    const deadlineMs = shutdownTimeoutMs + opts.stop.stdinGraceMs + opts.stop.termGraceMs + 3_000;
    reporter.event('shutdown', { reason, timeoutMs: shutdownTimeoutMs, deadlineMs });
    forceTimer = setTimeout(() => force(`deadline of ${deadlineMs} ms passed`, 1), deadlineMs);
    forceTimer.unref();
    const started = performance.now();
    closing = (async () => {
      await coordinator.close({ timeoutMs: shutdownTimeoutMs });
      await endpoint?.close();
      metrics?.close();
      stopForwarding();
      clearTimeout(forceTimer);
      reporter.event('closed', { ms: Math.round(performance.now() - started) });
      const written = await logs?.close();
      settle(code);
      // A log write stuck on a dead disk would keep the event loop alive: do not wait for it.
      if (written === false) setImmediate(() => process.exit(code));
    })();
    return closing;
  };

  // ---- reloads: one at a time, and only once the start is over ------------------------------
  let startDone: () => void = () => {};
  let tail: Promise<void> = new Promise<void>((resolve) => {
    startDone = resolve;
  });
  let configReloadQueued = false;
  let restartQueued = false;
  const serially = (op: () => Promise<void>) => {
    tail = tail
      .then(() => (closing === undefined ? op() : undefined))
      .catch((error: unknown) => reporter.event('error', { error: describeError(error) }));
  };
  const requestConfigReload = (reason: string) => {
    if (closing !== undefined) return;
    if (configReloadQueued) return; // the queued one will read the file as it is then
    configReloadQueued = true;
    serially(async () => {
      configReloadQueued = false;
      await reloadConfig(reason);
    });
  };
  const reloadConfig = async (reason: string) => {
    const started = performance.now();
    const file = current.file;
    let next: RunConfig;
    try {
      next = await loadConfig(file, undefined, { fresh: true });
      checkLogNames(next, flags);
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      // The same words as at start; nothing changes.
      reporter.event('config-reload-failed', { file, reason, error: error.message });
      return;
    }
    const changes = diffConfig(current, next);
    const httpBefore = httpOf(current, flags);
    const httpAfter = httpOf(next, flags);
    const logsBefore = logsOf(current, flags);
    const logsAfter = logsOf(next, flags);
    const httpChanged = !sameValue(httpBefore, httpAfter);
    const logsChanged = !sameValue(logsBefore, logsAfter);
    reporter.event('config-reload', {
      file,
      reason,
      added: changes.added,
      removed: changes.removed,
      changed: changes.changed,
      scaled: changes.scaled,
      unchanged: changes.unchanged,
      ...(httpChanged ? { http: httpAfter ?? 'off' } : {}),
      ...(logsChanged ? { logs: logsAfter ?? 'off' } : {}),
      ...(next.detach !== current.detach ? { detach: next.detach } : {}),
      ...(next.shutdownTimeoutMs !== current.shutdownTimeoutMs
        ? { shutdownTimeoutMs: next.shutdownTimeoutMs }
        : {}),
      // Coordinator options apply to a new coordinator only: restart atomvisor for these.
      ...(changes.restartNeeded.length > 0 ? { restartNeeded: changes.restartNeeded } : {}),
    });
    // While it applies, show the new servers and the ones on their way out.
    status.setServers([
      ...next.servers,
      ...current.servers.filter((s) => changes.removed.includes(s.name)),
    ]);
    if (logsChanged) {
      if (logs !== undefined && logsAfter !== undefined) await logs.reconfigure(logsAfter);
      else {
        const old = logs;
        openLogs(logsAfter);
        await old?.close();
      }
    }
    const applied = await applyServers(current, next, changes, {
      coordinator,
      drainMs: flags.shutdownTimeoutMs ?? next.shutdownTimeoutMs,
      report,
      removed: (key) => void logs?.forget(key),
    });
    const failed = [...applied.failed];
    let http = next.http;
    if (httpChanged) {
      const error = await restartEndpoint(httpAfter);
      if (error !== undefined) {
        failed.push({ key: 'http', error });
        http = current.http;
      }
    }
    current = {
      ...next,
      servers: applied.servers,
      http,
      // What the running coordinator was made with (a changed option needs a restart).
      coordinator: current.coordinator,
    };
    status.setServers(current.servers);
    reporter.event('config-reloaded', {
      file,
      ms: Math.round(performance.now() - started),
      ...(failed.length > 0 ? { failed } : {}),
    });
  };

  /** Move the endpoint to `settings` (or stop it); on failure the old one stays. */
  const restartEndpoint = async (
    settings: { host: string; port: number } | undefined,
  ): Promise<string | undefined> => {
    const old = endpoint;
    if (settings === undefined) {
      endpoint = undefined;
      await old?.close();
      metrics?.close();
      metrics = undefined;
      reporter.event('http-closed', {});
      return undefined;
    }
    metrics ??= createMetrics(coordinator, { status });
    // The same port on another address may clash with the old listener: free it first then.
    const samePort = old !== undefined && settings.port !== 0 && settings.port === old.address.port;
    if (samePort) await old?.close();
    try {
      endpoint = await startEndpoint(settings, status, metrics);
    } catch (error) {
      reporter.event('http-failed', { ...settings, error: describeError(error) });
      if (samePort && old !== undefined) {
        // Put the old one back (best effort).
        endpoint = await startEndpoint(
          { host: old.address.address, port: old.address.port },
          status,
          metrics,
        ).catch(() => undefined);
      }
      return describeError(error);
    }
    if (!samePort) await old?.close();
    reporter.event('listening', {
      url: endpoint.url,
      host: endpoint.address.address,
      port: endpoint.address.port,
    });
    return undefined;
  };

  // SIGHUP: reload the config (nginx, pm2's reload of an ecosystem file); while the live view
  // owns the terminal it means the terminal hung up, so it closes gracefully.
  const hangup = () => {
    if (view !== undefined && active === view) void shutdown('SIGHUP (terminal hung up)', 0);
    else requestConfigReload('SIGHUP');
  };
  // SIGUSR2: a rolling restart of every server (gunicorn's HUP), no config change.
  const restartAll = () => {
    if (closing !== undefined) return;
    if (restartQueued) {
      reporter.event('reload-busy', {});
      return;
    }
    restartQueued = true;
    serially(async () => {
      await reloadAll(coordinator, reporter);
      restartQueued = false;
    });
  };
  const removeSignals = onShutdownSignals({
    graceful: (signal: ShutdownSignal) => void shutdown(signal, 0),
    force: (signal: ShutdownSignal) => force(`second ${signal}`, SIGNAL_EXIT_CODES[signal]),
    hangup,
    restart: restartAll,
  });
  // The launcher went away (`npx atomvisor run` under a SIGTERM: npm and its shell end, node is
  // re-parented): shut down as on SIGTERM, unless detached.
  stopParentWatch = watchParent(({ parent, now }) => {
    const detached = flags.detach || current.detach;
    reporter.event('parent-exited', { parent, ppid: now, detached });
    if (!detached) void shutdown(`parent process ${parent} exited`, 0);
  });
  if (flags.watch) {
    const file = basename(config.file);
    try {
      // The directory, not the file: editors save by writing a new file and renaming it over.
      watcher = watch(dirname(config.file), (_event, name) => {
        if (name !== null && name !== file) return;
        clearTimeout(watchTimer);
        watchTimer = setTimeout(() => requestConfigReload('file changed'), WATCH_DEBOUNCE_MS);
      });
      watcher.on('error', (error) => reporter.event('watch-error', { error: error.message }));
    } catch (error) {
      reporter.event('watch-error', { error: describeError(error) });
    }
  }

  try {
    view?.start();
    reporter.event('config', {
      file: config.file,
      servers: config.servers.map((s) => s.name),
      pid: process.pid,
      ...(logs === undefined ? {} : { logDir: logs.settings.dir }),
    });
    const http = httpOf(config, flags);
    if (http !== undefined) {
      metrics = createMetrics(coordinator, { status });
      endpoint = await startEndpoint(http, status, metrics);
      reporter.event('listening', {
        url: endpoint.url,
        host: endpoint.address.address,
        port: endpoint.address.port,
      });
    }
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
    startDone();
    const failed = results.flatMap((r, i) =>
      r.status === 'rejected' ? [{ key: config.servers[i]?.name, error: r.reason }] : [],
    );
    if (closing === undefined) {
      if (failed.length > 0) {
        for (const f of failed)
          reporter.event('register-failed', { key: f.key, error: describeError(f.error) });
        void shutdown('a server could not start', 1);
      } else {
        reporter.event('started', { servers: config.servers.length, pids: [...live] });
      }
    }
    return await finished;
  } catch (error) {
    reporter.event('error', { error: describeError(error) });
    await shutdown('internal error', 1);
    return 1;
  } finally {
    removeSignals();
    stopParentWatch();
    watcher?.close();
    clearTimeout(watchTimer);
    leaveView();
    process.stdout.off('error', ignoreOutputError);
  }
}

/** SIGUSR2: restart every registered server (keys side by side, replicas one at a time). */
async function reloadAll(coordinator: Coordinator, reporter: Reporter): Promise<void> {
  const keys = coordinator.keys();
  reporter.event('reload', { servers: keys });
  await Promise.all(
    keys.map(async (key) => {
      try {
        const r = await coordinator.reload(key);
        reporter.event('reloaded', {
          key,
          pids: r.replaced.map((x) => x.toPid),
          replaced: r.replaced.length,
          skipped: r.skipped.length,
          ...(r.stopped === undefined
            ? {}
            : { stoppedAt: r.stopped.replica, reason: r.stopped.reason }),
        });
      } catch (error) {
        // Closing meanwhile, or the key was removed: the shutdown's own events say the rest.
        reporter.event('reload-failed', { key, error: describeError(error) });
      }
    }),
  );
}

function header(
  config: RunConfig,
  status: RunStatus,
  endpoint: StatusEndpoint | undefined,
): HeaderFields {
  const rows = status.rows();
  const expected = config.servers.reduce((n, s) => n + s.replicas, 0);
  const ready = rows.filter((r) => r.ready).length;
  return {
    file: config.file,
    pid: process.pid,
    state: status.shuttingDown
      ? 'SHUTTING DOWN'
      : `${ready}/${Math.max(expected, rows.length)} ready`,
    url: endpoint ? endpoint.url : 'no http',
    time: new Date().toISOString().slice(11, 19),
  };
}
