/**
 * The figure F2 and F5 are about: how long *other* callers wait while something slow happens to
 * one connection. Each round measures the bystanders' latency (open loop) twice over the same
 * length of time: once idle, once while the slow thing runs.
 */
import { openLoop, quantile, sleep } from './measure.ts';

export interface BystanderRound {
  idleP50Ms: number;
  idleP99Ms: number;
  duringP50Ms: number;
  duringP99Ms: number;
  duringMaxMs: number;
  /** How long the slow thing took (the window the bystanders were measured in). */
  windowMs: number;
  calls: number;
  errors: number;
}

export async function bystanderRound(
  bystander: () => Promise<unknown>,
  slow: () => Promise<unknown>,
  everyMs: number,
  idleMs: number,
): Promise<BystanderRound> {
  const idle = await openLoop(bystander, everyMs, sleep(idleMs));
  const t0 = performance.now();
  let windowMs = 0;
  const during = await openLoop(
    bystander,
    everyMs,
    slow().then(() => {
      windowMs = performance.now() - t0;
    }),
  );
  return {
    idleP50Ms: quantile(idle.latenciesMs, 0.5),
    idleP99Ms: quantile(idle.latenciesMs, 0.99),
    duringP50Ms: quantile(during.latenciesMs, 0.5),
    duringP99Ms: quantile(during.latenciesMs, 0.99),
    duringMaxMs: Math.max(...during.latenciesMs),
    windowMs,
    calls: during.latenciesMs.length,
    errors: during.errors + idle.errors,
  };
}
