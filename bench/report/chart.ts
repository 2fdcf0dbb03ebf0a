/**
 * Bar charts for the reports, as inline SVG (report.html) and as text bars (report.md).
 *
 * Invariants:
 * - The axis is logarithmic, with a gridline at every decade (labelled, or every other one where
 *   they would crowd), whenever the chart's values span more than two decades (largest median or
 *   upper CI bound over the smallest positive median > 100); linear from 0 otherwise. Both end at
 *   the largest value. Either way every positive median gets a bar of at least 1% of the plot
 *   width (linear: by the two-decade rule; log: the axis starts far enough below the smallest
 *   median, at least a tenth of a decade), so no design shrinks to a sliver.
 * - A median of zero (or below) cannot sit on a log axis and is an honest "nothing": it is drawn
 *   as a thin stub at the axis origin labelled 0, never as a scaled bar (its CI whisker, if the
 *   samples were not all 0, is drawn as usual).
 * - A design has one colour in every chart of a report (`designColours`), and bars carry their
 *   design and value as data attributes so a browser test can measure them.
 * - Pure functions of their input; no scripts, fonts or links in the SVG (the page stays
 *   self-contained); colours of text, grid and whiskers come from the page's CSS, so dark mode
 *   and print restyle them.
 */
import { formatBytes, formatNs, formatValue } from '../stats.ts';

/** Mid-tone colours readable on a light and a dark background. */
export const PALETTE = [
  '#4e79a7',
  '#f28e2b',
  '#59a14f',
  '#e15759',
  '#b07aa1',
  '#76b7b2',
  '#edc948',
  '#9c755f',
  '#ff9da7',
  '#bab0ac',
  '#8cd17d',
  '#d37295',
  '#17becf',
  '#bcbd22',
  '#a0cbe8',
  '#ffbe7d',
] as const;

/** Designs that keep the same colour in every report: the project, and the naive incident. */
const PINNED: Record<string, string> = { atomvisor: '#4e79a7', naive: '#e15759' };

/**
 * One colour per design for the whole report. `sets` lists designs seen together (a suite's, a
 * chart's); designs of one set get different colours whenever the palette allows it (greedy, in
 * order of first appearance; the pinned colours are handed out last).
 */
export function designColours(sets: readonly (readonly string[])[]): Map<string, string> {
  const colours = new Map<string, string>();
  const used = new Map<string, number>();
  const neighbours = new Map<string, Set<string>>();
  for (const chart of sets) {
    for (const d of chart) {
      const set = neighbours.get(d) ?? new Set<string>();
      neighbours.set(d, set);
      for (const other of chart) if (other !== d) set.add(other);
    }
  }
  const pinned = new Set(Object.values(PINNED));
  for (const [design, colour] of Object.entries(PINNED)) {
    if (neighbours.has(design)) colours.set(design, colour);
  }
  for (const design of neighbours.keys()) {
    if (colours.has(design)) continue;
    const taken = new Set(
      [...(neighbours.get(design) ?? [])].map((n) => colours.get(n)).filter(Boolean),
    );
    const free = (list: readonly string[]) => list.filter((c) => !taken.has(c));
    const candidates = free(PALETTE.filter((c) => !pinned.has(c)));
    const pool = candidates.length ? candidates : free(PALETTE);
    const from = pool.length ? pool : [...PALETTE];
    // The least used colour of those allowed, palette order breaking ties.
    const colour = from.reduce((best, c) =>
      (used.get(c) ?? 0) < (used.get(best) ?? 0) ? c : best,
    ) as string;
    colours.set(design, colour);
    used.set(colour, (used.get(colour) ?? 0) + 1);
  }
  return colours;
}

export interface Bar {
  /** Colour key and data-design attribute. */
  design: string;
  /** Row label. */
  label: string;
  median: number;
  ciLow: number;
  ciHigh: number;
  unit: string;
  /** A baseline drawn lighter (e.g. the idle p99 next to the p99 during a stall). */
  muted?: boolean;
}

export interface ChartSpec {
  /** Accessible name of the picture. */
  title: string;
  unit: string;
  better: 'lower' | 'higher';
  /** Rows in order; a section heading (e.g. "2 threads") starts a block of rows. */
  sections: { heading?: string; bars: Bar[] }[];
}

export interface Scale {
  kind: 'log' | 'linear';
  lo: number;
  hi: number;
  /** Gridlines: every decade (log) or round steps from 0 (linear). */
  ticks: number[];
  /** Position of a value on the axis, 0..1 (clamped); NaN for a value the axis cannot show. */
  at(v: number): number;
}

const finite = (v: number) => Number.isFinite(v);

/** Pick the axis for a set of bars (see the invariants at the top of this file). */
export function chooseScale(
  bars: readonly Pick<Bar, 'median' | 'ciLow' | 'ciHigh'>[],
  unit = '',
): Scale {
  const medians = bars.map((b) => b.median).filter((v) => finite(v) && v > 0);
  const top = Math.max(
    ...bars.flatMap((b) => [b.median, b.ciHigh]).filter((v) => finite(v) && v > 0),
    Number.MIN_VALUE,
  );
  const smallest = medians.length ? Math.min(...medians) : top;
  if (medians.length && top / smallest > 100) {
    const decade = (v: number) => Math.floor(Math.log10(v));
    // Start at the smallest median's decade, lower to show a CI below it but by one decade at
    // most (a near-zero CI bound would squash every bar); then lower still until the smallest
    // bar is at least a tenth of a decade and 1% of the axis long.
    const lows = bars.map((b) => b.ciLow).filter((v) => finite(v) && v > 0);
    let loExp = Math.max(Math.min(decade(smallest), ...lows.map(decade)), decade(smallest) - 1);
    const topLog = Math.log10(top);
    const room = () => Math.log10(smallest) - loExp;
    while (room() < 0.1 || room() < 0.01 * (Math.max(topLog, loExp + 1) - loExp)) loExp -= 1;
    // The axis ends at the largest value (not the next decade), so the longest bar fills it.
    const hiLog = Math.max(topLog, loExp + 1);
    const span = hiLog - loExp;
    const ticks: number[] = [];
    for (let e = loExp; e <= hiLog + 1e-9; e++) ticks.push(10 ** e);
    return {
      kind: 'log',
      lo: 10 ** loExp,
      hi: 10 ** hiLog,
      ticks,
      at: (v) => (finite(v) && v > 0 ? clamp01((Math.log10(v) - loExp) / span) : Number.NaN),
    };
  }
  const hi = top > Number.MIN_VALUE ? top : 1;
  // Round steps in the unit the labels use: bytes in KiB/MiB/GiB, everything else decimal.
  const base =
    unit === 'bytes' ? 1024 ** Math.max(0, Math.floor(Math.log(hi) / Math.log(1024))) : 1;
  const step = niceStep(hi / base / 4) * base;
  const ticks: number[] = [];
  for (let t = 0; t <= hi * (1 + 1e-9); t += step) ticks.push(t);
  return {
    kind: 'linear',
    lo: 0,
    hi,
    ticks,
    at: (v) => (finite(v) ? clamp01(v / hi) : Number.NaN),
  };
}

const clamp01 = (x: number) => Math.min(1, Math.max(0, x));

/** 1, 2 or 5 × a power of ten, at least `raw`. */
function niceStep(raw: number): number {
  const p = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) if (m * p >= raw) return m * p;
  return 10 * p;
}

/** A short axis label: "1 µs", "10 M", "100 ms", "0.1". */
export function formatTick(v: number, unit: string): string {
  if (v === 0) return '0';
  if (unit === 'ns/op' || unit === 'ns') return trimZeros(formatNs(v));
  if (unit === 'µs') return trimZeros(formatNs(v * 1e3));
  if (unit === 'bytes') return trimZeros(formatBytes(v));
  if (unit === 'ms')
    return v >= 1000 ? `${trimZeros((v / 1000).toPrecision(3))} s` : trimZeros(formatNs(v * 1e6));
  return compactNumber(v);
}

/** 11.7 M, 313 k, 42, 0.05 — for counts and rates where the unit is in the chart's title. */
export function compactNumber(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e9) return `${trimZeros((v / 1e9).toPrecision(3))} G`;
  if (a >= 1e6) return `${trimZeros((v / 1e6).toPrecision(3))} M`;
  if (a >= 1e3) return `${trimZeros((v / 1e3).toPrecision(3))} k`;
  if (a >= 1 || a === 0) return trimZeros(v.toPrecision(3));
  return trimZeros(v.toPrecision(2));
}

function trimZeros(s: string): string {
  return s.replace(/(\.\d*?)0+(?=\D|$)/, '$1').replace(/\.(?=\D|$)/, '');
}

/** A bar's value label: counts compact ("11.7 M"), everything else as the tables print it. */
export function barValue(v: number, unit: string): string {
  if (!finite(v)) return 'n/a';
  if (unit === 'count') return compactNumber(v);
  return formatValue(v, unit);
}

export function escapeXml(s: string): string {
  return s
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;');
}

export interface SvgLayout {
  /** Width of the row labels (at least; up to maxLabelWidth for long ones), the plot and the value labels, in px. */
  labelWidth: number;
  maxLabelWidth: number;
  plotWidth: number;
  valueWidth: number;
}

export const WIDE: SvgLayout = {
  labelWidth: 160,
  maxLabelWidth: 340,
  plotWidth: 480,
  valueWidth: 200,
};
export const NARROW: SvgLayout = {
  labelWidth: 80,
  maxLabelWidth: 110,
  plotWidth: 240,
  valueWidth: 80,
};

const ROW = 20;
const BAR = 13;
const ZERO_STUB = 3;

/** One chart as inline SVG: labelled bars with CI whiskers, gridlines and an axis. */
export function svgChart(
  spec: ChartSpec,
  colours: ReadonlyMap<string, string>,
  layout: SvgLayout = WIDE,
): string {
  const bars = spec.sections.flatMap((s) => s.bars).filter((b) => finite(b.median));
  const scale = chooseScale(bars, spec.unit);
  const { plotWidth, valueWidth } = layout;
  // Room for the longest label (about 7 px per character at 12 px), within the layout's bounds.
  const longest = Math.max(
    0,
    ...spec.sections.flatMap((s) => [
      ...s.bars.map((b) => b.label.length),
      (s.heading?.length ?? 0) - 8,
    ]),
  );
  const labelWidth = Math.min(
    layout.maxLabelWidth,
    Math.max(layout.labelWidth, Math.ceil(longest * 7) + 12),
  );
  const x0 = labelWidth;
  const px = (f: number) => x0 + f * plotWidth;
  const parts: string[] = [];
  let y = 4;
  for (const section of spec.sections) {
    const shown = section.bars.filter((b) => finite(b.median));
    if (!shown.length) continue;
    if (section.heading) {
      parts.push(`<text class="sec" x="4" y="${y + ROW - 6}">${escapeXml(section.heading)}</text>`);
      y += ROW;
    }
    for (const b of shown) {
      const mid = y + ROW / 2;
      const colour = colours.get(b.design) ?? (PALETTE[0] as string);
      const zero = !(b.median > 0);
      const w = zero ? ZERO_STUB : Math.max(0, scale.at(b.median) * plotWidth);
      // A CI reaching 0 (or below) starts at the axis origin, also on a log axis.
      const lo = finite(b.ciLow) && b.ciLow <= 0 ? 0 : scale.at(b.ciLow);
      const hi = scale.at(b.ciHigh);
      const value = barValue(b.median, b.unit);
      const tip = `${b.label}: ${value}${finite(b.ciLow) && finite(b.ciHigh) ? ` [95% CI ${barValue(b.ciLow, b.unit)} – ${barValue(b.ciHigh, b.unit)}]` : ''}`;
      const g = [
        `<g class="bar${zero ? ' zero' : ''}${b.muted ? ' muted' : ''}" data-design="${escapeXml(b.design)}" data-value="${b.median}">`,
        `<title>${escapeXml(tip)}</title>`,
        `<text class="label" x="${x0 - 6}" y="${mid + 4}" text-anchor="end">${escapeXml(b.label)}</text>`,
        `<rect class="b" x="${x0}" y="${(mid - BAR / 2).toFixed(1)}" width="${w.toFixed(1)}" height="${BAR}" fill="${colour}"${b.muted ? ' fill-opacity="0.45"' : ''}/>`,
      ];
      let end = x0 + w;
      if (finite(lo) && finite(hi) && hi > lo) {
        const [l, h] = [px(lo).toFixed(1), px(hi).toFixed(1)];
        g.push(
          `<path class="ci" d="M${l} ${mid}H${h}M${l} ${mid - 4}V${mid + 4}M${h} ${mid - 4}V${mid + 4}"/>`,
        );
        end = Math.max(end, px(hi));
      }
      g.push(
        `<text class="value" x="${(end + 6).toFixed(1)}" y="${mid + 4}">${escapeXml(value)}</text>`,
        '</g>',
      );
      parts.push(g.join(''));
      y += ROW;
    }
  }
  const plotBottom = y + 2;
  // Every tick gets a gridline; labels skip ticks so that they stay ~48 px apart.
  const spacing = scale.ticks.length > 1 ? plotWidth / (scale.ticks.length - 1) : plotWidth;
  const every = scale.kind === 'log' ? Math.max(1, Math.ceil(48 / Math.max(1, spacing))) : 1;
  const grid = scale.ticks.map((t, i) => {
    const gx = px(scale.at(t) || 0).toFixed(1);
    const label =
      i % every === 0
        ? `<text class="tick" x="${gx}" y="${plotBottom + 14}" text-anchor="middle">${escapeXml(formatTick(t, spec.unit))}</text>`
        : '';
    return `<line class="grid" x1="${gx}" x2="${gx}" y1="2" y2="${plotBottom}"/>${label}`;
  });
  const axisNote = scale.kind === 'log' ? 'log scale: ×10 per gridline' : 'linear scale from 0';
  const width = labelWidth + plotWidth + valueWidth;
  const height = plotBottom + 32;
  return [
    `<svg class="chart" data-scale="${scale.kind}" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeXml(spec.title)}">`,
    `<g class="axis">${grid.join('')}<line class="base" x1="${x0}" x2="${x0}" y1="2" y2="${plotBottom}"/>`,
    `<text class="note" x="${x0 + plotWidth}" y="${plotBottom + 28}" text-anchor="end">${axisNote}; ${spec.better} is better</text></g>`,
    parts.join(''),
    '</svg>',
  ].join('');
}

const EIGHTHS = ['', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];

/**
 * The same chart as text bars for report.md (a fenced block): one line per bar, on the same
 * axis rule as the SVG; a zero is a "·".
 */
export function textChart(spec: ChartSpec, width = 32): string {
  const bars = spec.sections.flatMap((s) => s.bars).filter((b) => finite(b.median));
  const scale = chooseScale(bars, spec.unit);
  const indent = spec.sections.some((s) => s.heading) ? '  ' : '';
  const labelWidth = Math.max(...bars.map((b) => indent.length + b.label.length), 4);
  const lines: string[] = [];
  for (const section of spec.sections) {
    const shown = section.bars.filter((b) => finite(b.median));
    if (!shown.length) continue;
    if (section.heading) lines.push(section.heading);
    for (const b of shown) {
      let bar = '·';
      if (b.median > 0) {
        const eighths = Math.max(1, Math.round(scale.at(b.median) * width * 8));
        bar = '█'.repeat(Math.floor(eighths / 8)) + (EIGHTHS[eighths % 8] as string);
      }
      lines.push(
        `${(indent + b.label).padEnd(labelWidth)}  ${bar.padEnd(width + 1)} ${barValue(b.median, b.unit)}`,
      );
    }
  }
  const axis =
    scale.kind === 'log'
      ? `log scale from ${formatTick(scale.lo, spec.unit)}, ×10 per decade`
      : `linear scale, 0 to ${barValue(scale.hi, spec.unit)}`;
  lines.push(`${''.padEnd(labelWidth)}  (${axis}; ${spec.better} is better)`);
  return lines.join('\n');
}
