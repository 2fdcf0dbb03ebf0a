/**
 * `atomvisor run [CONFIG]`: supervise the servers a config file names, pm2 style, with the
 * embedding's own coordinator. The order matters:
 *   1. the whole config is checked before anything starts (a broken one starts nothing);
 *   2. signal handlers and the HTTP endpoint come up before the servers, so /readyz says 503
 *      while they start and a signal during the start still closes cleanly;
 *   3. servers register concurrently; if one cannot start, everything is closed again (exit 1);
 *   4. on SIGINT/SIGTERM: graceful close within the deadline, then SIGKILL every process group
 *      left; a second signal does that at once.
 */
import { parseArgs } from 'node:util';
import type { Coordinator } from '../coordinator/coordinator.ts';
import { createCoordinator } from '../coordinator/coordinator.ts';
import { AtomvisorError, ConfigError, InvalidArgumentError } from '../errors.ts';
import { signalGroup } from '../io/process-group.ts';
import { DEFAULT_CONFIG, loadConfig, type RunConfig } from './config.ts';
import { type StatusEndpoint, startEndpoint } from './http.ts';
import { forwardEvents, jsonReporter, type Reporter, textReporter } from './log.ts';
import { createMetrics, type Metrics } from './metrics.ts';
import { onShutdownSignals, type ShutdownSignal, SIGNAL_EXIT_CODES } from './signals.ts';
import { RunStatus } from './status.ts';
import { LiveView } from './view.ts';

export const RUN_USAGE = `usage: atomvisor run [CONFIG] [options]

Supervise the stdio JSON-RPC servers named in CONFIG (default ${DEFAULT_CONFIG}; a .js/.ts
module whose default export is the same object also works). See docs/run.md.

options:
  --json                   newline-delimited JSON events on stdout (no live view)
  --no-view                plain log lines even on a terminal
  --http-port PORT         serve /healthz /readyz /status /metrics (0: any free port);
                           overrides the config's http.port
  --http-host HOST         the address to bind (default 127.0.0.1)
  --shutdown-timeout MS    on SIGINT/SIGTERM, let in-flight work finish this long
                           (default: the config's shutdownTimeoutMs, else 10000)
  --check                  check the config and exit
  -h, --help               show this help

signals: SIGINT/SIGTERM close gracefully (a second one forces it); SIGHUP restarts every server
one replica at a time (with the live view on, it means the terminal hung up: close gracefully).

exit status: 0 after a graceful shutdown; 1 when a server could not start or the shutdown
deadline passed; 2 for a bad config or usage; 130/143 when a second SIGINT/SIGTERM forced it.`;

interface RunFlags {
  configFile: string;
  json: boolean;
  view: boolean;
  httpPort: number | undefined;
  httpHost: string | undefined;
  shutdownTimeoutMs: number | undefined;
  check: boolean;
}

function parseFlags(argv: string[]): RunFlags | 'help' {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      json: { type: 'boolean' },
      'no-view': { type: 'boolean' },
      'http-port': { type: 'string' },
      'http-host': { type: 'string' },
      'shutdown-timeout': { type: 'string' },
      check: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: true,
    strict: true,
  });
  if (values.help) return 'help';
  if (positionals.length > 1)
    throw new InvalidArgumentError('CONFIG', `expected one config file, got ${positionals.length}`);
  const int = (flag: string, text: string | undefined, max: number) => {
    if (text === undefined) return undefined;
    const n = Number(text);
    if (!/^\d+$/.test(text) || n > max)
      throw new InvalidArgumentError(`--${flag}`, `expected an integer 0..${max}, got ${text}`);
    return n;
  };
  return {
    configFile: positionals[0] ?? DEFAULT_CONFIG,
    json: values.json ?? false,
    view: !(values['no-view'] ?? false),
    httpPort: int('http-port', values['http-port'], 65_535),
    httpHost: values['http-host'],
    shutdownTimeoutMs: int('shutdown-timeout', values['shutdown-timeout'], 86_400_000),
    check: values.check ?? false,
  };
}

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
  let config: RunConfig;
  try {
    config = await loadConfig(flags.configFile);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(error.message);
    return 2;
  }
  if (flags.check) {
    console.log(`${config.file}: ok (${config.servers.length} servers)`);
    return 0;
  }
  return run(config, flags);
}

async function run(config: RunConfig, flags: RunFlags): Promise<number> {
  const shutdownTimeoutMs = flags.shutdownTimeoutMs ?? config.shutdownTimeoutMs;
  const http =
    flags.httpPort !== undefined || flags.httpHost !== undefined || config.http !== undefined
      ? {
          host: flags.httpHost ?? config.http?.host ?? '127.0.0.1',
          port: flags.httpPort ?? config.http?.port ?? 0,
        }
      : undefined;

  // The view's MEM column, /status and /metrics show each server group's memory: measured unless
  // the config says housekeeping.measureMemory: false.
  // Output that can no longer be written — a reader that went away (EPIPE), a terminal that hung
  // up (EIO) — must not crash the supervisor and leave its servers without it.
  const ignoreOutputError = () => {};
  process.stdout.on('error', ignoreOutputError);
  const coordinator = createCoordinator({
    ...config.coordinator,
    housekeeping: { measureMemory: true, ...config.coordinator.housekeeping },
  });
  const status = new RunStatus(coordinator, config.servers);
  let endpoint: StatusEndpoint | undefined;
  let metrics: Metrics | undefined;

  // The reporter may change once: the live view hands over to log lines when it stops.
  const logs: Reporter = flags.json ? jsonReporter(process.stdout) : textReporter(process.stdout);
  const view =
    !flags.json && flags.view && process.stdout.isTTY
      ? new LiveView(process.stdout, status, () => header(config, status, endpoint))
      : undefined;
  let active: Reporter = view ?? logs;
  const reporter: Reporter = { event: (name, fields) => active.event(name, fields) };
  const stopForwarding = forwardEvents(coordinator, reporter);

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

  const leaveView = () => {
    if (view === undefined || active === logs) return;
    view.stop();
    active = logs;
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
      settle(code);
    })();
    return closing;
  };
  // SIGHUP: a rolling restart of every server (gunicorn's HUP, pm2's reload), one at a time; while
  // the live view owns the terminal it means the terminal hung up, so it closes gracefully.
  let reloading: Promise<void> | undefined;
  const hangup = () => {
    if (view !== undefined && active === view) {
      void shutdown('SIGHUP (terminal hung up)', 0);
    } else if (closing !== undefined) {
      // closing anyway
    } else if (reloading !== undefined) {
      reporter.event('reload-busy', {});
    } else {
      reloading = reloadAll(coordinator, reporter).finally(() => {
        reloading = undefined;
      });
    }
  };
  const removeSignals = onShutdownSignals({
    graceful: (signal: ShutdownSignal) => void shutdown(signal, 0),
    force: (signal: ShutdownSignal) => force(`second ${signal}`, SIGNAL_EXIT_CODES[signal]),
    hangup,
  });

  try {
    view?.start();
    reporter.event('config', {
      file: config.file,
      servers: config.servers.map((s) => s.name),
      pid: process.pid,
    });
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
    leaveView();
    process.stdout.off('error', ignoreOutputError);
  }
}

/** SIGHUP: reload every registered server (keys side by side, replicas one at a time). */
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

function pidsOf(coordinator: Coordinator, key: string): number[] {
  try {
    return coordinator.snapshot(key).replicas.map((r) => r.pid);
  } catch {
    return [];
  }
}

function describeError(error: unknown): string {
  if (error instanceof AtomvisorError) return `${error.code}: ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}

function header(config: RunConfig, status: RunStatus, endpoint: StatusEndpoint | undefined) {
  const { ready } = status.readiness();
  return [
    `atomvisor run ${config.file}`,
    `pid ${process.pid}`,
    status.shuttingDown ? 'SHUTTING DOWN' : ready ? 'ready' : 'not ready',
    endpoint ? endpoint.url : 'no http',
    new Date().toISOString().slice(11, 19),
  ].join('  ·  ');
}
