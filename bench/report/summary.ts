/**
 * What the top of every report says, computed from a run's measurements (no rendering here):
 *
 * - verdicts: for each headline comparison (suite, metric, workload) and thread count, the
 *   winning design and its margin over the runner-up, or "no clear difference" when the winner's
 *   95% CI overlaps another design's;
 * - the five failures F1–F5 of the scenarios suite, naive beside atomvisor, one chart each;
 * - the request path: atomvisor's designs against the direct client and the MCP SDK, when the
 *   request-path suite ran.
 *
 * Everything is found by suite, metric and design names; a comparison whose measurements are
 * missing is left out, never filled in.
 */
import type { SuiteTarget } from '../runner.ts';
import type { Measurement } from '../suite.ts';
import { type Bar, barValue, type ChartSpec } from './chart.ts';
import { formatRatio } from './groups.ts';

/** The metric that answers "which design should I use" in each suite that compares designs. */
export const HEADLINE_METRICS: Readonly<Record<string, readonly string[]>> = {
  'shared-state': ['throughput total'],
  channel: ['round trip', 'one-way throughput'],
  pool: ['acquire+release throughput'],
};

/** The request-path comparison: which suite, which designs are the yardsticks, which are ours. */
export const REQUEST_PATH = {
  suite: 'request-path',
  baselines: ['direct', 'mcp-sdk'],
  ours: (design: string) => design.startsWith('atomvisor'),
} as const;

const usable = (m: Measurement | undefined): m is Measurement =>
  m !== undefined && Number.isFinite(m.median);

/** `a` better than `b` by this factor (> 1 = better), in the metric's own direction. */
export function margin(a: Measurement, b: Measurement): number {
  if (!(a.median > 0) || !(b.median > 0)) return Number.NaN;
  return a.better === 'higher' ? a.median / b.median : b.median / a.median;
}

function interval(m: Measurement): [number, number] {
  const lo = Number.isFinite(m.ciLow) ? m.ciLow : m.median;
  const hi = Number.isFinite(m.ciHigh) ? m.ciHigh : m.median;
  return [Math.min(lo, hi, m.median), Math.max(lo, hi, m.median)];
}

/** The two 95% CIs of the medians overlap: this run cannot tell the two apart. */
export function overlaps(a: Measurement, b: Measurement): boolean {
  const [al, ah] = interval(a);
  const [bl, bh] = interval(b);
  return al <= bh && bl <= ah;
}

export interface Verdict {
  threads: number;
  winner: Measurement;
  runnerUp: Measurement;
  /** Winner over runner-up (> 1). */
  ratio: number;
  /** Designs whose CI overlaps the winner's (the winner first); one entry = a clear win. */
  tied: string[];
}

export interface VerdictRow {
  suite: string;
  metric: string;
  workload: string;
  unit: string;
  better: 'lower' | 'higher';
  designs: string[];
  cells: Map<number, Verdict>;
}

function rank(list: readonly Measurement[]): Measurement[] {
  return [...list].sort((a, b) =>
    a.better === 'higher' ? b.median - a.median : a.median - b.median,
  );
}

/** The winner at one thread count among measurements of one comparison; undefined with < 2. */
export function verdictOf(list: readonly Measurement[]): Verdict | undefined {
  const ranked = rank(list.filter(usable));
  const [winner, runnerUp] = ranked;
  if (!winner || !runnerUp) return undefined;
  return {
    threads: winner.threads,
    winner,
    runnerUp,
    ratio: margin(winner, runnerUp),
    tied: ranked.filter((m) => m === winner || overlaps(m, winner)).map((m) => m.design),
  };
}

/** Verdicts for every headline comparison present, in the order the suites reported them. */
export function verdicts(measurements: readonly Measurement[]): {
  rows: VerdictRow[];
  threads: number[];
} {
  const rows = new Map<string, VerdictRow>();
  const byCell = new Map<string, Measurement[]>();
  for (const m of measurements) {
    if (!HEADLINE_METRICS[m.suite]?.includes(m.metric)) continue;
    const key = `${m.suite}\u0000${m.metric}\u0000${m.workload}`;
    let row = rows.get(key);
    if (!row) {
      row = {
        suite: m.suite,
        metric: m.metric,
        workload: m.workload,
        unit: m.unit,
        better: m.better,
        designs: [],
        cells: new Map(),
      };
      rows.set(key, row);
    }
    if (!row.designs.includes(m.design)) row.designs.push(m.design);
    const cellKey = `${key}\u0000${m.threads}`;
    const list = byCell.get(cellKey);
    if (list) list.push(m);
    else byCell.set(cellKey, [m]);
  }
  const threads = new Set<number>();
  for (const [cellKey, list] of byCell) {
    const v = verdictOf(list);
    if (!v) continue;
    const row = rows.get(cellKey.slice(0, cellKey.lastIndexOf('\u0000')));
    row?.cells.set(v.threads, v);
    threads.add(v.threads);
  }
  return {
    rows: [...rows.values()].filter((r) => r.cells.size > 0),
    threads: [...threads].sort((a, b) => a - b),
  };
}

/** "atomic, 1.28× over mutex" or "no clear difference: mutex ≈ atomic (1.05×)". */
export function verdictText(v: Verdict): { winner: string; text: string; clear: boolean } {
  const r = formatRatio(v.ratio) || 'n/a';
  if (v.tied.length > 1) {
    return {
      winner: v.winner.design,
      clear: false,
      text: `no clear difference: ${v.tied.join(' ≈ ')} (${r})`,
    };
  }
  return { winner: v.winner.design, clear: true, text: `${r} over ${v.runnerUp.design}` };
}

// --- F1–F5 ---------------------------------------------------------------------------------

export interface FailureFigure {
  id: string;
  title: string;
  /** One sentence with the figures, naive against atomvisor. */
  caption: string;
  charts: ChartSpec[];
}

const SCENARIOS = 'scenarios';
const NAIVE = 'naive';
const OURS = 'atomvisor';

function scenario(
  all: readonly Measurement[],
  fid: string,
  design: string,
  metric: string,
): Measurement | undefined {
  return all.find(
    (m) =>
      m.suite === SCENARIOS &&
      m.case === `${fid}-${design}` &&
      m.design === design &&
      m.metric === metric,
  );
}

const bar = (m: Measurement, label: string, muted = false): Bar => ({
  design: m.design,
  label,
  median: m.median,
  ciLow: m.ciLow,
  ciHigh: m.ciHigh,
  unit: m.unit,
  ...(muted ? { muted } : {}),
});

const v = (m: Measurement | undefined) => (m ? barValue(m.median, m.unit) : 'n/a');

function chart(title: string, m: Measurement, bars: Bar[]): ChartSpec {
  return { title, unit: m.unit, better: m.better, sections: [{ bars }] };
}

/** How many times better atomvisor is than naive ("16213×"), or "n/a". */
function times(naive: Measurement | undefined, ours: Measurement | undefined): string {
  if (!naive || !ours) return 'n/a';
  const r = margin(ours, naive);
  return Number.isFinite(r) ? formatRatio(r) : 'n/a';
}

function f1(all: readonly Measurement[]): FailureFigure | undefined {
  const metric = 'acquire p99 during round';
  const n = scenario(all, 'f1', NAIVE, metric);
  const a = scenario(all, 'f1', OURS, metric);
  if (!usable(n) && !usable(a)) return undefined;
  const bars = [n, a].filter(usable).map((m) => bar(m, m.design));
  const ref = (usable(a) ? a : n) as Measurement;
  return {
    id: 'F1',
    title: 'F1 — a health round over hung probes',
    caption: `${ref.workload}: callers' acquire p99 while the round runs, naive ${v(n)}, atomvisor ${v(a)} (${times(n, a)} better).`,
    charts: [chart(`F1 acquire p99, naive vs atomvisor`, ref, bars)],
  };
}

function bystander(
  all: readonly Measurement[],
  fid: 'f2' | 'f5',
  who: string,
  title: string,
  during: string,
): FailureFigure | undefined {
  const get = (d: string, what: string) => scenario(all, fid, d, `${who} p99 ${what}`);
  const sections: ChartSpec['sections'] = [];
  let ref: Measurement | undefined;
  const said: string[] = [];
  for (const d of [NAIVE, OURS]) {
    const idle = get(d, 'idle');
    const busy = get(d, 'during');
    const ratio = get(d, 'during / idle');
    const bars: Bar[] = [];
    if (usable(idle)) bars.push(bar(idle, 'idle', true));
    if (usable(busy)) {
      bars.push(bar(busy, 'during'));
      ref = busy;
      said.push(
        `${d} ${v(busy)}${usable(ratio) ? ` (${formatRatio(ratio.median)} its idle p99)` : ''}`,
      );
    }
    if (bars.length) sections.push({ heading: d, bars });
  }
  if (!ref) return undefined;
  const n = get(NAIVE, 'during');
  const a = get(OURS, 'during');
  const id = fid.toUpperCase();
  return {
    id,
    title: `${id} — ${title}`,
    caption: `${ref.workload}: ${who} p99 ${during}, ${said.join(', ')}; atomvisor ${times(n, a)} better.`,
    charts: [
      {
        title: `${id} ${who} p99, idle and ${during}`,
        unit: ref.unit,
        better: ref.better,
        sections,
      },
    ],
  };
}

function f3(all: readonly Measurement[]): FailureFigure | undefined {
  const charts: ChartSpec[] = [];
  const said: string[] = [];
  let ref: Measurement | undefined;
  // One chart per count, each naive against atomvisor on its own axis.
  for (const [metric, what] of [
    ['lost updates', 'lost'],
    ['torn reads', 'torn'],
  ] as const) {
    const ms = [NAIVE, OURS].map((d) => scenario(all, 'f3', d, metric)).filter(usable);
    if (!ms.length) continue;
    ref = ref ?? ms[0];
    charts.push(
      chart(
        `F3 ${metric} per sample`,
        ms[0] as Measurement,
        ms.map((m) => bar(m, m.design)),
      ),
    );
    said.push(`${what}: ${ms.map((m) => `${m.design} ${v(m)}`).join(', ')}`);
  }
  if (!ref) return undefined;
  return {
    id: 'F3',
    title: 'F3 — a shared record read and written field by field',
    caption: `${ref.workload}, ${ref.threads} threads; medians per sample, ${said.join('; ')}.`,
    charts,
  };
}

function f4(all: readonly Measurement[]): FailureFigure | undefined {
  const charts: ChartSpec[] = [];
  const said: string[] = [];
  const leaks = [NAIVE, OURS].map((d) => scenario(all, 'f4', d, 'leaked leases found'));
  const usableLeaks = leaks.filter(usable);
  if (usableLeaks.length) {
    const of = usableLeaks.map((m) => m.extra?.leaked).find((x) => typeof x === 'number');
    charts.push(
      chart(
        `F4 leaked leases found${of === undefined ? '' : ` (of ${of})`}`,
        usableLeaks[0] as Measurement,
        usableLeaks.map((m) => bar(m, m.design)),
      ),
    );
    said.push(
      `leaked leases found: ${usableLeaks.map((m) => `${m.design} ${v(m)}${of === undefined ? '' : ` of ${of}`}`).join(', ')}`,
    );
  }
  const spread = [NAIVE, OURS]
    .map((d) => scenario(all, 'f4', d, 'reconnect spread'))
    .filter(usable);
  if (spread.length) {
    charts.push(
      chart(
        'F4 reconnect spread after a mass kill',
        spread[0] as Measurement,
        spread.map((m) => bar(m, m.design)),
      ),
    );
    said.push(
      `reconnects spread over ${spread.map((m) => `${v(m)} (${m.design})`).join(' vs ')}: wider is less of a herd`,
    );
  }
  if (!charts.length) return undefined;
  const workload = (usableLeaks[0] ?? spread[0])?.workload ?? '';
  return {
    id: 'F4',
    title: 'F4 — leaked leases and a reconnect storm',
    caption: `${workload}: ${said.join('; ')}.`,
    charts,
  };
}

/** One figure per failure whose scenario ran, in order F1–F5. */
export function failureFigures(all: readonly Measurement[]): FailureFigure[] {
  return [
    f1(all),
    bystander(all, 'f2', "other callers'", 'closing a hung process', 'during the close'),
    f3(all),
    f4(all),
    bystander(all, 'f5', "session B's", 'one long request on session A', "during A's request"),
  ].filter((f): f is FailureFigure => f !== undefined);
}

// --- request path ----------------------------------------------------------------------------

export interface RequestPathRow {
  workload: string;
  metric: string;
  unit: string;
  better: 'lower' | 'higher';
  cells: Map<string, Measurement>;
}

export interface RequestPathComparison {
  /** Baselines present, then atomvisor's designs present, in the order the suite reported them. */
  baselines: string[];
  ours: string[];
  rows: RequestPathRow[];
}

/**
 * atomvisor's designs against the direct client and the MCP SDK, per workload and metric: one
 * figure per (design, workload, metric); should the suite report several thread counts, the
 * lowest is shown. Undefined when the suite did not run (or ran without an atomvisor design).
 */
export function requestPathComparison(
  all: readonly Measurement[],
): RequestPathComparison | undefined {
  const ms = all.filter((m) => m.suite === REQUEST_PATH.suite && usable(m));
  if (!ms.length) return undefined;
  const designs = [...new Set(ms.map((m) => m.design))];
  const baselines = REQUEST_PATH.baselines.filter((b) => designs.includes(b));
  const ours = designs.filter(REQUEST_PATH.ours);
  const rows = new Map<string, RequestPathRow>();
  for (const m of ms) {
    const key = `${m.workload}\u0000${m.metric}`;
    let row = rows.get(key);
    if (!row) {
      row = {
        workload: m.workload,
        metric: m.metric,
        unit: m.unit,
        better: m.better,
        cells: new Map(),
      };
      rows.set(key, row);
    }
    const prev = row.cells.get(m.design);
    if (!prev || m.threads < prev.threads) row.cells.set(m.design, m);
  }
  if (!ours.length) return undefined;
  return { baselines, ours, rows: [...rows.values()] };
}

/** "0.76× direct" with "≈" when the CIs overlap; '' when either figure is missing. */
export function againstText(ours: Measurement | undefined, base: Measurement | undefined): string {
  if (!ours || !base) return '';
  const r = margin(ours, base);
  if (!Number.isFinite(r)) return '';
  return `${overlaps(ours, base) ? '≈ ' : ''}${formatRatio(r)} ${base.design}`;
}

// --- targets ---------------------------------------------------------------------------------

export function targetCounts(targets: readonly SuiteTarget[]): string {
  const met = targets.filter((t) => t.met === true).length;
  const missed = targets.filter((t) => t.met === false).length;
  const notRun = targets.filter((t) => t.met === 'not run').length;
  return [`${met} met`, `${missed} missed`, ...(notRun ? [`${notRun} not run`] : [])].join(', ');
}
