/**
 * Where the events of `atomvisor run` go: to the live view while it owns the terminal, then to log
 * lines on stdout (text, or JSON with --json) — the view hands over once, at leaveView, and never
 * takes the terminal back — and, when there are log files, a copy of every event to
 * DIR/atomvisor.log. Also owns:
 *   - the log files' lifetime: opened at start, moved or opened/closed by a reload (moveLogs),
 *     flushed and closed last at shutdown (closeLogs);
 *   - the forwarding of coordinator events (log.ts): a server's stderr goes to its log file when
 *     there is one, else to the event stream;
 *   - the guard that keeps output which can no longer be written — a reader that went away
 *     (EPIPE), a terminal that hung up (EIO) — from crashing the supervisor and leaving its
 *     servers without it (on from the constructor to detach()).
 * The view's header (headerFields) is built here from the running config, status and endpoint.
 */
import type { Coordinator } from '../coordinator/coordinator.ts';
import type { RunConfig } from './config.ts';
import type { RunFlags } from './flags.ts';
import type { StatusEndpoint } from './http.ts';
import {
  type Fields,
  formatLine,
  forwardEvents,
  jsonReporter,
  type Reporter,
  textReporter,
} from './log.ts';
import { type LogSettings, RunLogs } from './log-files.ts';
import type { RunStatus } from './status.ts';
import { type HeaderFields, LiveView } from './view.ts';

export interface OutputContext {
  readonly coordinator: Coordinator;
  readonly status: RunStatus;
  readonly flags: Pick<RunFlags, 'json' | 'view'>;
  /** The live view's header, read at each frame (the view starts with start()). */
  header(): HeaderFields;
}

export class RunOutput implements Reporter {
  readonly #ctx: OutputContext;
  readonly #lines: Reporter;
  readonly #view: LiveView | undefined;
  #active: Reporter;
  #logs: RunLogs | undefined;
  readonly #stopForwarding: () => void;
  readonly #ignoreOutputError = () => {};

  /** `event` as a plain function, for the parts that take a callback. */
  readonly report = (name: string, fields?: Fields): void => this.event(name, fields);

  /** `logs`: the log settings in effect at start (flags.ts logsOf), none without log files. */
  constructor(ctx: OutputContext, logs: LogSettings | undefined) {
    this.#ctx = ctx;
    process.stdout.on('error', this.#ignoreOutputError);
    const { json, view } = ctx.flags;
    this.#lines = json ? jsonReporter(process.stdout) : textReporter(process.stdout);
    this.#view =
      !json && view && process.stdout.isTTY
        ? new LiveView(process.stdout, ctx.status, () => ctx.header())
        : undefined;
    this.#active = this.#view ?? this.#lines;
    this.#open(logs);
    this.#stopForwarding = forwardEvents(ctx.coordinator, this, {
      serverOutput: () => this.#logs === undefined,
    });
  }

  event(name: string, fields: Fields = {}): void {
    this.#active.event(name, fields);
    this.#logs?.event(
      this.#ctx.flags.json
        ? JSON.stringify({ time: new Date().toISOString(), event: name, ...fields })
        : formatLine(new Date(), name, fields),
    );
  }

  /** Draw the live view, if there is one. */
  start(): void {
    this.#view?.start();
  }

  /** The live view (if any) draws the terminal now: a SIGHUP then means the terminal hung up. */
  get viewOwnsTerminal(): boolean {
    return this.#view !== undefined && this.#active === this.#view;
  }

  /** Stop the live view, restore the terminal; events go to log lines from now on. Idempotent. */
  leaveView(): void {
    if (this.#view === undefined || this.#active === this.#lines) return;
    this.#view.stop();
    this.#active = this.#lines;
  }

  /** The log directory, while there are log files. */
  get logDir(): string | undefined {
    return this.#logs?.settings.dir;
  }

  /** A reload changed the log settings: move the files, or open them, or close them. */
  async moveLogs(settings: LogSettings | undefined): Promise<void> {
    if (this.#logs !== undefined && settings !== undefined) await this.#logs.reconfigure(settings);
    else {
      const old = this.#logs;
      this.#open(settings);
      await old?.close();
    }
  }

  /** A server was removed: close its log file once its last lines are written. */
  forgetLog(key: string): void {
    void this.#logs?.forget(key);
  }

  /** Stop following the coordinator's events (shutdown, once the coordinator closed). */
  stopForwarding(): void {
    this.#stopForwarding();
  }

  /** Flush and close the log files: false when a write is stuck (undefined without files). */
  async closeLogs(): Promise<boolean | undefined> {
    return this.#logs?.close();
  }

  /** The end of the run: restore the terminal, drop the stdout guard. */
  detach(): void {
    this.leaveView();
    process.stdout.off('error', this.#ignoreOutputError);
  }

  #open(settings: LogSettings | undefined): void {
    this.#logs =
      settings === undefined
        ? undefined
        : new RunLogs(this.#ctx.coordinator, settings, this.report);
    this.#ctx.status.setLogStats(this.#logs === undefined ? undefined : () => this.#logs?.stats());
  }
}

/** The live view's header line: the config file, this pid, how many replicas serve, the URL. */
export function headerFields(
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
