/**
 * Probe specs: Kubernetes defaults, and the packed per-probe counts kept in the slot.
 */
import { describe, expect, it } from 'vitest';
import { resolveSpec } from '../../src/coordinator/spec.ts';
import { countOf, decodeProbeCounts, withCount } from '../../src/probes/counters.ts';

describe('probe specs', () => {
  it('fills in the Kubernetes defaults', () => {
    const spec = resolveSpec({
      command: 'x',
      liveness: { kind: 'jsonrpc', method: 'ping' },
      readiness: { kind: 'tcp', port: 8080 },
      startup: { kind: 'module', path: 'probes/ok.mjs' },
    });
    expect(spec.probes.liveness).toEqual({
      name: 'liveness',
      check: { kind: 'jsonrpc', method: 'ping', params: undefined },
      periodMs: 10_000,
      timeoutMs: 1_000,
      initialDelayMs: 0,
      failureThreshold: 3,
      successThreshold: 1,
    });
    expect(spec.probes.readiness?.check).toEqual({ kind: 'tcp', port: 8080, host: '127.0.0.1' });
    expect(spec.probes.startup?.check).toMatchObject({ kind: 'module', export: 'default' });
    expect(spec.probes.startup?.check).toHaveProperty('path', `${process.cwd()}/probes/ok.mjs`);
    expect(resolveSpec({ command: 'x' }).probes).toEqual({
      liveness: undefined,
      readiness: undefined,
      startup: undefined,
    });
  });

  it('packs each probe’s consecutive count in 10 bits of one word', () => {
    let word = 0;
    word = withCount(word, 'liveness', 3);
    word = withCount(word, 'readiness', 1000);
    word = withCount(word, 'startup', 5000); // saturates
    expect(countOf(word, 'liveness')).toBe(3);
    expect(countOf(word, 'readiness')).toBe(1000);
    expect(countOf(word, 'startup')).toBe(1023);
    word = withCount(word, 'readiness', 0);
    expect(decodeProbeCounts(word, withCount(0, 'readiness', 2))).toEqual({
      liveness: { failures: 3, successes: 0 },
      readiness: { failures: 0, successes: 2 },
      startup: { failures: 1023, successes: 0 },
    });
  });
});
