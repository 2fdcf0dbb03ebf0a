/**
 * SIGINT/SIGTERM for `atomvisor run`, the way operators expect from pm2 and Kubernetes: the first
 * signal starts a graceful close (bounded by a deadline, after which everything is killed); a
 * second signal — an impatient Ctrl-C, or the orchestrator's follow-up — forces it at once.
 */

export type ShutdownSignal = 'SIGINT' | 'SIGTERM';

export const SIGNAL_EXIT_CODES: Record<ShutdownSignal, number> = { SIGINT: 130, SIGTERM: 143 };

export interface ShutdownHandlers {
  graceful(signal: ShutdownSignal): void;
  force(signal: ShutdownSignal): void;
}

/** Listen for SIGINT/SIGTERM; returns a function that removes the listeners. */
export function onShutdownSignals(handlers: ShutdownHandlers): () => void {
  let received = 0;
  const listener = (signal: ShutdownSignal) => {
    received++;
    if (received === 1) handlers.graceful(signal);
    else handlers.force(signal);
  };
  process.on('SIGINT', listener);
  process.on('SIGTERM', listener);
  return () => {
    process.off('SIGINT', listener);
    process.off('SIGTERM', listener);
  };
}
