/**
 * The reloads of a running `atomvisor run` (order step 5 in session.ts), and the config as it runs
 * now (`current`: the file's at start, then what each reload applied) — this is its one writer.
 *   - A config reload (SIGHUP, or a change of the file with --watch) reads the file again; a
 *     broken one is refused (`config-reload-failed`) and the running config stays. What changed is
 *     applied: the servers (reload.ts), the log files, the HTTP endpoint; `shutdownTimeoutMs` and
 *     `detach` are read from `current` where they are used. Coordinator options need a restart of
 *     atomvisor: they are reported, and `current` keeps the ones the coordinator was made with.
 *   - SIGUSR2 restarts every server, one replica at a time (no config change).
 * One at a time, and none before the start is over (startDone) or after the shutdown began. A
 * config reload asked for while one is queued is the queued one (which reads the file as it is
 * then); a restart asked for while one is queued or running is refused (`reload-busy`). A reload
 * that throws is reported (`error`) and the next one still runs.
 */
import type { Coordinator } from '../coordinator/coordinator.ts';
import { ConfigError } from '../errors.ts';
import { loadConfig, type RunConfig } from './config.ts';
import type { RunEndpoint } from './endpoint.ts';
import { checkLogNames, httpOf, logsOf, type RunFlags } from './flags.ts';
import type { Reporter } from './log.ts';
import type { RunOutput } from './output.ts';
import { applyServers, describeError, diffConfig, reloadedFields, sameValue } from './reload.ts';
import type { RunStatus } from './status.ts';

export interface ReloaderContext {
  readonly coordinator: Coordinator;
  readonly flags: RunFlags;
  readonly status: RunStatus;
  readonly output: RunOutput;
  readonly endpoint: RunEndpoint;
  /** True once the shutdown began. */
  closing(): boolean;
}

export class Reloader {
  readonly #ctx: ReloaderContext;
  #current: RunConfig;
  /** The last reload asked for: each runs after the one before, the first after the start. */
  #tail: Promise<void>;
  #startDone: () => void = () => {};
  #configReloadQueued = false;
  #restartQueued = false;

  constructor(ctx: ReloaderContext, initial: RunConfig) {
    this.#ctx = ctx;
    this.#current = initial;
    this.#tail = new Promise<void>((resolve) => {
      this.#startDone = resolve;
    });
  }

  /** The config as it runs now. */
  get current(): RunConfig {
    return this.#current;
  }

  /** The start is over (whatever came of it): the reloads asked for meanwhile may run. */
  startDone(): void {
    this.#startDone();
  }

  /** Read the config file again and apply what changed (SIGHUP, --watch). */
  requestConfigReload(reason: string): void {
    if (this.#ctx.closing()) return;
    if (this.#configReloadQueued) return; // the queued one will read the file as it is then
    this.#configReloadQueued = true;
    this.#serially(async () => {
      this.#configReloadQueued = false;
      await this.#reloadConfig(reason);
    });
  }

  /** SIGUSR2: a rolling restart of every server (gunicorn's HUP), no config change. */
  restartAll(): void {
    const { coordinator, output } = this.#ctx;
    if (this.#ctx.closing()) return;
    if (this.#restartQueued) {
      output.event('reload-busy', {});
      return;
    }
    this.#restartQueued = true;
    this.#serially(async () => {
      await restartEvery(coordinator, output);
      this.#restartQueued = false;
    });
  }

  #serially(op: () => Promise<void>): void {
    this.#tail = this.#tail
      .then(() => (this.#ctx.closing() ? undefined : op()))
      .catch((error: unknown) => this.#ctx.output.event('error', { error: describeError(error) }));
  }

  async #reloadConfig(reason: string): Promise<void> {
    const { coordinator, flags, status, output, endpoint } = this.#ctx;
    const started = performance.now();
    const current = this.#current;
    const file = current.file;
    let next: RunConfig;
    try {
      next = await loadConfig(file, undefined, { fresh: true });
      checkLogNames(next, flags);
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      // The same words as at start; nothing changes.
      output.event('config-reload-failed', { file, reason, error: error.message });
      return;
    }
    const changes = diffConfig(current, next);
    const httpBefore = httpOf(current, flags);
    const httpAfter = httpOf(next, flags);
    const logsBefore = logsOf(current, flags);
    const logsAfter = logsOf(next, flags);
    const httpChanged = !sameValue(httpBefore, httpAfter);
    const logsChanged = !sameValue(logsBefore, logsAfter);
    output.event('config-reload', {
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
    if (logsChanged) await output.moveLogs(logsAfter);
    const applied = await applyServers(current, next, changes, {
      coordinator,
      drainMs: flags.shutdownTimeoutMs ?? next.shutdownTimeoutMs,
      report: output.report,
      removed: (key) => output.forgetLog(key),
    });
    const failed = [...applied.failed];
    let http = next.http;
    if (httpChanged) {
      const error = await endpoint.move(httpAfter);
      if (error !== undefined) {
        failed.push({ key: 'http', error });
        http = current.http;
      }
    }
    this.#current = {
      ...next,
      servers: applied.servers,
      http,
      // What the running coordinator was made with (a changed option needs a restart).
      coordinator: current.coordinator,
    };
    status.setServers(this.#current.servers);
    output.event('config-reloaded', {
      file,
      ms: Math.round(performance.now() - started),
      ...(failed.length > 0 ? { failed } : {}),
    });
  }
}

/** SIGUSR2: restart every registered server (keys side by side, replicas one at a time). */
async function restartEvery(coordinator: Coordinator, reporter: Reporter): Promise<void> {
  const keys = coordinator.keys();
  reporter.event('reload', { servers: keys });
  await Promise.all(
    keys.map(async (key) => {
      try {
        const r = await coordinator.reload(key);
        reporter.event('reloaded', reloadedFields(key, r));
      } catch (error) {
        // Closing meanwhile, or the key was removed: the shutdown's own events say the rest.
        reporter.event('reload-failed', { key, error: describeError(error) });
      }
    }),
  );
}
