/**
 * The shared-state and channel suites' cases, shrunk, run in this process on real worker threads:
 * every design completes its windows, counts ops in the shared window, loses no update (the
 * counter equals the updates the threads made) and delivers every one-way message.
 */
import { describe, expect, it } from 'vitest';
import type { Measurement, Profile } from '../../bench/suite.ts';
import { suite as channel } from '../../bench/suites/channel.ts';
import { suite as sharedState } from '../../bench/suites/shared-state.ts';

// Windows of 40 ms (channel 48 ms): short, but long enough that a busy machine still completes ops.
const profile: Profile = { name: 'quick', threads: [2], scale: 0.4 };

async function runCase(s: typeof sharedState, id: string): Promise<Measurement[]> {
  const c = s.cases(profile).find((x) => x.id === id);
  if (!c) throw new Error(`no case ${id}`);
  return c.run(profile);
}

describe('shared-state suite', () => {
  it.each([
    'mutex-mixed-t2',
    'atomic-mixed-t2',
    'channel-sharedchannel-mixed-t2',
    'channel-postmessage-mixed-t2',
    'channel-comlink-mixed-t2',
  ])(
    '%s measures throughput, latency and fairness',
    async (id) => {
      const ms = await runCase(sharedState, id);
      const total = ms.find((m) => m.metric === 'throughput total');
      expect(total?.median).toBeGreaterThan(0);
      expect(total?.samples).toBeGreaterThanOrEqual(3);
      if (id.startsWith('mutex') || id.startsWith('atomic'))
        expect(total?.extra?.lostUpdates).toBe(0);
      const p99 = ms.find((m) => m.metric.startsWith('op latency p99'));
      const p50 = ms.find((m) => m.metric.startsWith('op latency p50'));
      expect(p99?.median, JSON.stringify(ms)).toBeGreaterThanOrEqual(
        p50?.median ?? Number.POSITIVE_INFINITY,
      );
      expect(ms.find((m) => m.metric.startsWith('fairness'))?.median).toBeGreaterThanOrEqual(1);
    },
    30_000,
  );
});

describe('channel suite', () => {
  it.each([
    'round-trip-sharedchannel-spsc',
    'one-way-sharedchannel-mpsc',
    'one-way-sharedchannel-spsc-batched',
    'round-trip-postmessage',
    'one-way-comlink',
    'one-way-piscina',
  ])(
    '%s completes its windows (the peer counted every message)',
    async (id) => {
      const [m] = await runCase(channel, id);
      expect(m?.median).toBeGreaterThan(0);
      expect(m?.samples).toBe(3);
    },
    30_000,
  );
});
