/**
 * SIGINT/SIGTERM for `atomvisor run`, the way operators expect from pm2 and Kubernetes: the first
 * signal starts a graceful close (bounded by a deadline, after which everything is killed); a
 * second signal — an impatient Ctrl-C, or the orchestrator's follow-up — forces it at once.
 * SIGHUP is passed to its own handler (reload, or a hung-up terminal).
 */

export type ShutdownSignal = 'SIGINT' | 'SIGTERM';

export const SIGNAL_EXIT_CODES: Record<ShutdownSignal, number> = { SIGINT: 130, SIGTERM: 143 };

export interface ShutdownHandlers {
  graceful(signal: ShutdownSignal): void;
  force(signal: ShutdownSignal): void;
  /**
   * SIGHUP: for a daemon, "reload" (nginx, gunicorn); for a program on a terminal, "the terminal
   * hung up". The handler decides which (`atomvisor run`: a rolling restart, or a graceful close
   * when its live view owned the terminal). Without it, Node's default would end the process
   * abruptly.
   */
  hangup(): void;
}

/** Listen for SIGINT/SIGTERM and SIGHUP; returns a function that removes the listeners. */
export function onShutdownSignals(handlers: ShutdownHandlers): () => void {
  let received = 0;
  const listener = (signal: ShutdownSignal) => {
    received++;
    if (received === 1) handlers.graceful(signal);
    else handlers.force(signal);
  };
  const hangup = () => handlers.hangup();
  process.on('SIGINT', listener);
  process.on('SIGTERM', listener);
  process.on('SIGHUP', hangup);
  return () => {
    process.off('SIGINT', listener);
    process.off('SIGTERM', listener);
    process.off('SIGHUP', hangup);
  };
}
