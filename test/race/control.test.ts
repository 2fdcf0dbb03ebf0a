/**
 * The race harness's control-buffer layout (src/race/control.ts): no two fields or regions share a
 * word, everything fits in the space the views are built over, and the explore limits fit the
 * encodings that depend on them.
 */
import { describe, expect, it } from 'vitest';
import {
  ActorWord,
  actorBase,
  ExploreControl,
  ExploreWord,
  MAX_ACTORS,
  MAX_CHANGE_POINTS,
  MAX_EXPLORE_ACTORS,
  StressWord,
  watchBase,
} from '../../src/race/control.ts';

type Region = { name: string; from: number; to: number };

/** Regions must not overlap and must lie in [0, limit). */
function expectDisjoint(regions: Region[], limit: number): void {
  const sorted = [...regions].sort((a, b) => a.from - b.from);
  for (const r of sorted) {
    expect(r.from, r.name).toBeGreaterThanOrEqual(0);
    expect(r.to, r.name).toBeGreaterThan(r.from);
    expect(r.to, r.name).toBeLessThanOrEqual(limit);
  }
  for (let k = 1; k < sorted.length; k++) {
    const [a, b] = [sorted[k - 1]!, sorted[k]!];
    const overlap = `${a.name} [${a.from}, ${a.to}) overlaps ${b.name} [${b.from}, ${b.to})`;
    expect(b.from, overlap).toBeGreaterThanOrEqual(a.to);
  }
}

describe('explore control buffer', () => {
  it('gives every header field and region its own words, inside HEADER_WORDS', () => {
    const sizes: Record<string, number> = {
      RNG: 4,
      CHANGE_POINTS: MAX_CHANGE_POINTS,
      ACTORS: MAX_EXPLORE_ACTORS * ExploreWord.ACTOR_WORDS,
      WATCH: MAX_EXPLORE_ACTORS * ExploreWord.WATCH_WORDS,
    };
    const notOffsets = new Set(['ACTOR_WORDS', 'WATCH_WORDS', 'WATCH_MAX', 'HEADER_WORDS']);
    const regions: Region[] = [];
    for (const [name, at] of Object.entries(ExploreWord)) {
      if (notOffsets.has(name)) continue;
      if (name.endsWith('_F64')) {
        // Float64 indices: two Int32 words each; DEADLINES_F64 has one per actor.
        const count = name === 'DEADLINES_F64' ? MAX_EXPLORE_ACTORS : 1;
        regions.push({ name, from: 2 * at, to: 2 * (at + count) });
      } else {
        regions.push({ name, from: at, to: at + (sizes[name] ?? 1) });
      }
    }
    expectDisjoint(regions, ExploreWord.HEADER_WORDS);
    expect(ExploreWord.HEADER_WORDS % 2).toBe(0); // the Float64 view and the decision arrays align
    expect(ExploreWord.WATCH_WORDS).toBe(1 + 2 * ExploreWord.WATCH_MAX);
  });

  it('gives each actor ACTOR_WORDS words of distinct fields, and its own watch list', () => {
    const fields = Object.values(ActorWord);
    expect(new Set(fields).size).toBe(fields.length);
    for (const f of fields) expect(f).toBeLessThan(ExploreWord.ACTOR_WORDS);
    const last = MAX_EXPLORE_ACTORS - 1;
    expect(actorBase(0)).toBe(ExploreWord.ACTORS);
    expect(actorBase(last) + ExploreWord.ACTOR_WORDS).toBe(ExploreWord.WATCH);
    expect(watchBase(0)).toBe(ExploreWord.WATCH);
    expect(watchBase(last) + ExploreWord.WATCH_WORDS).toBeLessThanOrEqual(ExploreWord.HEADER_WORDS);
  });

  it('lays the decision arrays after the header, apart, inside the buffer', () => {
    for (const maxDecisions of [1, 7, 8, 9, 20_000]) {
      const c = ExploreControl.create(maxDecisions);
      expect(c.buffer.byteLength).toBe(ExploreControl.bytes(maxDecisions));
      const { chosen, forced, enabled, tried, current, preBefore } = c;
      const views = { chosen, forced, enabled, tried, current, preBefore };
      const regions: Region[] = [
        { name: 'header', from: 0, to: ExploreWord.HEADER_WORDS * 4 },
        ...Object.entries(views).map(([name, v]) => {
          expect(v.length, name).toBe(maxDecisions);
          return { name, from: v.byteOffset, to: v.byteOffset + v.byteLength };
        }),
      ];
      expectDisjoint(regions, c.buffer.byteLength);
      expect(c.i32[ExploreWord.TURN]).toBe(-1);
    }
  });

  it('has limits that fit the encodings built on them', () => {
    // A decision's choices: one bit per actor to run, one per blocked actor to wake (Int32 mask).
    expect(2 * MAX_EXPLORE_ACTORS).toBeLessThanOrEqual(31);
    // A choice is one base-36 digit in a trace: c < n runs actor c, c ≥ n wakes actor c − n.
    expect(2 * MAX_EXPLORE_ACTORS).toBeLessThanOrEqual(36);
    expect(MAX_EXPLORE_ACTORS).toBeLessThanOrEqual(MAX_ACTORS);
  });
});

describe('stress control buffer', () => {
  it('gives the counters and both per-actor arrays their own words, inside WORDS', () => {
    expectDisjoint(
      [
        { name: 'ARRIVED', from: StressWord.ARRIVED, to: StressWord.ARRIVED + 1 },
        { name: 'LIN_CLOCK', from: StressWord.LIN_CLOCK, to: StressWord.LIN_CLOCK + 1 },
        { name: 'GO', from: StressWord.GO, to: StressWord.GO + 1 },
        {
          name: 'TRIALS_DONE',
          from: StressWord.TRIALS_DONE,
          to: StressWord.TRIALS_DONE + MAX_ACTORS,
        },
        { name: 'REACHED', from: StressWord.REACHED, to: StressWord.REACHED + MAX_ACTORS },
      ],
      StressWord.WORDS,
    );
  });
});
