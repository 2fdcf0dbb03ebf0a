/**
 * F5 scenario: session A runs one long request (`sleep longMs` on its own connection) while
 * session B keeps sending short requests on another connection.
 *
 * - naive: bench/naive/f5-global-lock-per-request.ts — both sessions go through
 *   `withConnection`, which holds the pool-wide lock for the whole request.
 * - atomvisor: one key per session; each session `withConnection(key, lease => ...)` on its own
 *   connection (a lease locks only that connection).
 *
 * The figure: session B's p99 during A's request, against B's idle p99 over an equal window.
 */
import { createCoordinator } from '../../src/coordinator/coordinator.ts';
import { rpcServer } from '../fixtures/rpc-server.ts';
import { NaiveSessionPool } from '../naive/f5-global-lock-per-request.ts';
import { startClients } from '../naive/stdio-client.ts';
import { type BystanderRound, bystanderRound } from './bystander.ts';
import { closedLoop } from './measure.ts';

export interface F5Params {
  longMs: number;
  rounds: number;
  everyMs: number;
}

export async function runF5(design: 'naive' | 'atomvisor', p: F5Params): Promise<BystanderRound[]> {
  return design === 'naive' ? runNaive(p) : runAtomvisor(p);
}

async function runNaive(p: F5Params): Promise<BystanderRound[]> {
  const clients = await startClients(rpcServer(), 2);
  try {
    const pool = new NaiveSessionPool();
    pool.add('a', clients[0]!);
    pool.add('b', clients[1]!);
    const sessionB = () => pool.withConnection('b', (c) => c.request('echo', { n: 1 }));
    const sessionA = () => pool.withConnection('a', (c) => c.request('sleep', { ms: p.longMs }));
    await closedLoop(sessionB, 200); // warm-up
    const rounds: BystanderRound[] = [];
    for (let r = 0; r < p.rounds; r++) {
      rounds.push(await bystanderRound(sessionB, sessionA, p.everyMs, p.longMs));
    }
    return rounds;
  } finally {
    await Promise.all(clients.map((c) => c.kill()));
  }
}

async function runAtomvisor(p: F5Params): Promise<BystanderRound[]> {
  const coordinator = createCoordinator();
  try {
    await Promise.all([
      coordinator.register('session-a', rpcServer()),
      coordinator.register('session-b', rpcServer()),
    ]);
    const sessionB = () =>
      coordinator.withConnection('session-b', (lease) => lease.request('echo', { n: 1 }));
    const sessionA = () =>
      coordinator.withConnection('session-a', (lease) => lease.request('sleep', { ms: p.longMs }));
    await closedLoop(sessionB, 200); // warm-up
    const rounds: BystanderRound[] = [];
    for (let r = 0; r < p.rounds; r++) {
      rounds.push(await bystanderRound(sessionB, sessionA, p.everyMs, p.longMs));
    }
    return rounds;
  } finally {
    await coordinator.close({ timeoutMs: 1_000 });
  }
}
