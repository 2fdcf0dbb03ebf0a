/**
 * How `atomvisor run` learns it should stop or change, the way operators expect from pm2,
 * Kubernetes and daemons:
 * - SIGINT/SIGTERM: the first starts a graceful close (bounded by a deadline, after which
 *   everything is killed); a second — an impatient Ctrl-C, or the orchestrator's follow-up —
 *   forces it at once.
 * - SIGHUP goes to its own handler (reload the config, or a hung-up terminal); SIGUSR2 to the
 *   rolling restart of every server.
 * - The launcher going away (watchParent): `npx atomvisor run` is `npm exec` → `sh -c` → node,
 *   and a SIGTERM to npx ends npm and the shell but not node, which is re-parented. Its parent pid
 *   changes: that is the signal to shut down.
 */

export type ShutdownSignal = 'SIGINT' | 'SIGTERM';

export const SIGNAL_EXIT_CODES: Record<ShutdownSignal, number> = { SIGINT: 130, SIGTERM: 143 };

export interface ShutdownHandlers {
  graceful(signal: ShutdownSignal): void;
  force(signal: ShutdownSignal): void;
  /**
   * SIGHUP: for a daemon, "reload" (nginx, gunicorn); for a program on a terminal, "the terminal
   * hung up". The handler decides which (`atomvisor run`: reload the config, or a graceful close
   * when its live view owned the terminal). Without it, Node's default would end the process
   * abruptly.
   */
  hangup(): void;
  /** SIGUSR2: restart every server, one replica at a time (no config change). */
  restart?(): void;
}

/** Listen for SIGINT/SIGTERM, SIGHUP and SIGUSR2; returns a function that removes the listeners. */
export function onShutdownSignals(handlers: ShutdownHandlers): () => void {
  let received = 0;
  const listener = (signal: ShutdownSignal) => {
    received++;
    if (received === 1) handlers.graceful(signal);
    else handlers.force(signal);
  };
  const hangup = () => handlers.hangup();
  const restart = () => handlers.restart?.();
  process.on('SIGINT', listener);
  process.on('SIGTERM', listener);
  process.on('SIGHUP', hangup);
  if (handlers.restart) process.on('SIGUSR2', restart);
  return () => {
    process.off('SIGINT', listener);
    process.off('SIGTERM', listener);
    process.off('SIGHUP', hangup);
    process.off('SIGUSR2', restart);
  };
}

/**
 * Call `gone` once, when this process's parent is no longer the one it had at the call (it exited
 * and the process was re-parented, to init or a subreaper). Checks `process.ppid` every
 * `intervalMs` on an unref'd timer: a getppid() syscall a second, off every hot path, and it
 * never keeps the process alive. Returns a function that stops watching.
 */
export function watchParent(
  gone: (e: { parent: number; now: number }) => void,
  intervalMs = 1_000,
): () => void {
  const parent = process.ppid;
  const timer = setInterval(() => {
    const now = process.ppid;
    if (now === parent) return;
    clearInterval(timer);
    gone({ parent, now });
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
