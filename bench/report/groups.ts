/**
 * How every report lays out measurements: grouped by suite, metric and workload; designs side by
 * side (in the order the suite emitted them), thread counts as rows; each design's ratio against
 * the group's first design (its baseline), oriented so that > 1 always means "better than it".
 */
import type { Measurement } from '../suite.ts';

export interface Group {
  suite: string;
  metric: string;
  workload: string;
  unit: string;
  better: 'lower' | 'higher';
  designs: string[];
  threads: number[];
  /** Lookup by design and thread count. */
  cell(design: string, threads: number): Measurement | undefined;
  /** Ratio against the baseline design at the same thread count; NaN when either is missing. */
  ratio(design: string, threads: number): number;
  baseline: string;
}

export function groupMeasurements(measurements: readonly Measurement[]): Group[] {
  const groups = new Map<string, Measurement[]>();
  for (const m of measurements) {
    const key = `${m.suite}\u0000${m.metric}\u0000${m.workload}`;
    const list = groups.get(key);
    if (list) list.push(m);
    else groups.set(key, [m]);
  }
  return [...groups.values()].map((list) => {
    const first = list[0] as Measurement;
    const designs = [...new Set(list.map((m) => m.design))];
    const threads = [...new Set(list.map((m) => m.threads))].sort((a, b) => a - b);
    const cells = new Map(list.map((m) => [`${m.design}\u0000${m.threads}`, m]));
    const cell = (design: string, t: number) => cells.get(`${design}\u0000${t}`);
    const baseline = designs[0] as string;
    return {
      suite: first.suite,
      metric: first.metric,
      workload: first.workload,
      unit: first.unit,
      better: first.better,
      designs,
      threads,
      baseline,
      cell,
      ratio(design: string, t: number) {
        const m = cell(design, t);
        const b = cell(baseline, t);
        if (!m || !b || !(m.median > 0) || !(b.median > 0)) return Number.NaN;
        return first.better === 'higher' ? m.median / b.median : b.median / m.median;
      },
    };
  });
}

export function groupTitle(g: Group): string {
  return `${g.suite} — ${g.metric}${g.workload ? `, ${g.workload}` : ''} (${g.unit}, ${g.better} is better)`;
}

export function formatRatio(r: number): string {
  if (!Number.isFinite(r)) return '';
  if (r < 0.1) return `1/${(1 / r).toFixed(r < 0.01 ? 0 : 1)}`;
  return r >= 100 ? `${r.toFixed(0)}×` : r >= 10 ? `${r.toFixed(1)}×` : `${r.toFixed(2)}×`;
}

/** Warnings the cases attached to their measurements (extra.warning), with where they came from. */
export function measurementWarnings(measurements: readonly Measurement[]): string[] {
  const out: string[] = [];
  for (const m of measurements) {
    const w = m.extra?.warning;
    if (typeof w === 'string' && w) {
      out.push(`${m.suite}/${m.case} ${m.design} ${m.metric} (T=${m.threads}): ${w}`);
    }
  }
  return out;
}
