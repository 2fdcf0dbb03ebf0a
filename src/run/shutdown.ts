/**
 * The end of an `atomvisor run`, graceful or forced (order step 4 in session.ts):
 *   - begin(reason, code), once (a later call gets the same promise): the status says shutting
 *     down (/healthz 503), the live view gives the terminal back, what could ask for more work
 *     stops (the parent watch, the config file watcher), then the coordinator closes — in-flight
 *     work drains for the shutdown timeout in effect, then the stop escalation (stdin → SIGTERM →
 *     SIGKILL) — then the endpoint, the event forwarding and last the log files; `finished`
 *     then resolves to `code`.
 *   - A deadline (the timeout + the escalation's graces + a 3 s margin) on an unref'd timer,
 *     cleared once the close is done: past it, force.
 *   - force(reason, code): SIGKILL to every process group still alive (tracked here from spawn
 *     to exit), then process.exit(code). The coordinator's own close may still be running; its
 *     workers die with the process.
 * A log write stuck on a dead disk would keep the event loop alive after `finished`: the process
 * exits on its own then.
 */
import type { Coordinator } from '../coordinator/coordinator.ts';
import { signalGroup } from '../io/process-group.ts';
import type { RunEndpoint } from './endpoint.ts';
import type { RunOutput } from './output.ts';
import type { RunStatus } from './status.ts';

export interface ShutdownContext {
  readonly coordinator: Coordinator;
  readonly status: RunStatus;
  readonly output: RunOutput;
  readonly endpoint: RunEndpoint;
  /** The graceful timeout in effect now (--shutdown-timeout over the running config's). */
  timeoutMs(): number;
  /** Stop what could ask for more work: the parent watch, the config file watcher. */
  stopTriggers(): void;
}

/** Margin over the drain and the stop escalation before the deadline forces the end. */
const DEADLINE_MARGIN_MS = 3_000;

export class Shutdown {
  readonly #ctx: ShutdownContext;
  /** Every process group we may have to kill ourselves, from spawn to exit. */
  readonly #live = new Set<number>();
  #closing: Promise<void> | undefined;
  #forceTimer: NodeJS.Timeout | undefined;
  #settle: (code: number) => void = () => {};
  /** The exit code, once the graceful close is done. */
  readonly finished: Promise<number>;

  constructor(ctx: ShutdownContext) {
    this.#ctx = ctx;
    this.finished = new Promise<number>((resolve) => {
      this.#settle = resolve;
    });
    ctx.coordinator.on('spawn', (e) => this.#live.add(e.pid));
    ctx.coordinator.on('exit', (e) => this.#live.delete(e.pid));
  }

  /** True once the shutdown began: nothing new starts after that. */
  get closing(): boolean {
    return this.#closing !== undefined;
  }

  /** The pids (process groups) alive now. */
  pids(): number[] {
    return [...this.#live];
  }

  begin(reason: string, code: number): Promise<void> {
    if (this.#closing) return this.#closing;
    const { coordinator, status, output, endpoint } = this.#ctx;
    status.markShuttingDown();
    output.leaveView();
    this.#ctx.stopTriggers();
    const shutdownTimeoutMs = this.#ctx.timeoutMs();
    const opts = coordinator.options;
    // Drain, then the stop escalation (stdin → SIGTERM → SIGKILL), then a margin.
    const deadlineMs =
      shutdownTimeoutMs + opts.stop.stdinGraceMs + opts.stop.termGraceMs + DEADLINE_MARGIN_MS;
    output.event('shutdown', { reason, timeoutMs: shutdownTimeoutMs, deadlineMs });
    this.#forceTimer = setTimeout(
      () => this.force(`deadline of ${deadlineMs} ms passed`, 1),
      deadlineMs,
    );
    this.#forceTimer.unref();
    const started = performance.now();
    this.#closing = (async () => {
      await coordinator.close({ timeoutMs: shutdownTimeoutMs });
      await endpoint.close();
      output.stopForwarding();
      clearTimeout(this.#forceTimer);
      output.event('closed', { ms: Math.round(performance.now() - started) });
      const written = await output.closeLogs();
      this.#settle(code);
      // A log write stuck on a dead disk would keep the event loop alive: do not wait for it.
      if (written === false) setImmediate(() => process.exit(code));
    })();
    return this.#closing;
  }

  /** Kill every process group left and exit now (a second signal, or the deadline passed). */
  force(reason: string, code: number): never {
    const { output } = this.#ctx;
    output.leaveView();
    const pids = this.pids();
    output.event('force', { reason, killed: pids });
    for (const pid of pids) signalGroup(pid, 'SIGKILL');
    // The coordinator's own close is still running; its workers die with us.
    process.exit(code);
  }
}
