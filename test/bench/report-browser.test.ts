/**
 * report.html in a real browser: headless Chromium (Debian's `chromium`; .ci/run installs it)
 * opens the report of a small synthetic run at 1400×900 and we measure what it rendered: the
 * summary and every verdict in the first viewport, every bar of every chart at least 2 px wide,
 * bar lengths that follow the axis (log: equal steps per decade; linear: proportional), one
 * colour per design, no request but the file itself, dark mode, and print with the folded notes
 * shown. Without chromium the test is reported as skipped, saying why.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Page } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { groupMeasurements, groupTitle } from '../../bench/report/groups.ts';
import { writeReports } from '../../bench/report/index.ts';
import { syntheticResult } from './fixtures/report-result.ts';
import {
  findChromium,
  inspectReport,
  problems,
  type RenderedChart,
  VIEWPORT,
} from './report-browser.ts';

const chromium = findChromium();
if ('missing' in chromium) {
  // Said where a reader of the test output sees it, as well as in the skip note.
  process.stderr.write(`report-browser.test.ts: SKIPPED, ${chromium.missing}\n`);
}

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** [r, g, b] of a computed CSS colour "rgb(r, g, b)". */
function rgb(css: string): number[] {
  const m = css.match(/\d+(\.\d+)?/g);
  if (!m || m.length < 3) throw new Error(`not an rgb() colour: ${css}`);
  return m.slice(0, 3).map(Number);
}
const luminance = (css: string) => {
  const [r, g, b] = rgb(css) as [number, number, number];
  return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
};

/** Bars follow the axis: equal px per decade on a log axis, px ∝ value on a linear one. */
function axisErrors(c: RenderedChart): string[] {
  const out: string[] = [];
  const bars = c.bars.filter((b) => b.value > 0);
  const [first, ...rest] = bars;
  if (!first) return out;
  if (c.scale === 'log') {
    const decades = c.grid.map((g) => g.x);
    const steps = decades.slice(1).map((x, i) => x - (decades[i] as number));
    const perDecade = steps[0] ?? Number.NaN;
    for (const s of steps) {
      if (Math.abs(s - perDecade) > 1) out.push(`${c.title}: uneven decades ${steps.join(',')}`);
    }
    for (const b of rest) {
      const expected = perDecade * Math.log10(b.value / first.value);
      if (Math.abs(b.width - first.width - expected) > 1.5) {
        out.push(
          `${c.title}: ${b.label} ${b.width} px vs ${first.label} ${first.width} px, expected a ${expected.toFixed(1)} px difference`,
        );
      }
    }
  } else {
    const biggest = bars.reduce((a, b) => (b.value > a.value ? b : a));
    for (const b of bars) {
      const expected = (biggest.width * b.value) / biggest.value;
      if (Math.abs(b.width - expected) > 1.5) {
        out.push(`${c.title}: ${b.label} ${b.width} px, expected ${expected.toFixed(1)} px`);
      }
    }
  }
  return out;
}

describe('report.html in headless Chromium', () => {
  it('shows the summary first and every design of every chart as a visible bar', async (ctx) => {
    if ('missing' in chromium) {
      ctx.skip(`skipped: ${chromium.missing}`);
      return;
    }
    const dir = mkdtempSync(join(tmpdir(), 'atomvisor-report-browser-'));
    dirs.push(dir);
    const result = syntheticResult({ requestPath: true });
    writeReports(result, dir);
    const file = join(dir, 'report.html');
    const shot = join(dir, 'first-screen.png');
    const seen: Record<string, unknown> = {};
    const extra = async (page: Page) => {
      const look = () =>
        page.evaluate(`(() => {
          const span = document.querySelector('details.note > span');
          const note = span.getBoundingClientRect();
          const text = document.querySelector('svg.chart text.label');
          return {
            background: getComputedStyle(document.body).backgroundColor,
            text: getComputedStyle(text).fill,
            // A closed <details> keeps its content laid out but hidden (content-visibility).
            noteShown: span.checkVisibility() && note.height > 0,
          };
        })()`);
      seen.screen = await look();
      await page.emulateMedia({ colorScheme: 'dark' });
      seen.dark = await look();
      await page.emulateMedia({ media: 'print', colorScheme: 'dark' });
      seen.print = await look();
    };
    const r = await inspectReport(file, { chromium: chromium.path, screenshot: shot, extra });

    // What the issue accepts: summary and verdicts in the first screen, every bar ≥ 2 px.
    expect(problems(r)).toEqual([]);
    expect(r.viewport).toEqual(VIEWPORT);
    const winners = r.verdictCells.map((c) => c.winner);
    expect(winners).toEqual(expect.arrayContaining(['mutex', 'atomic', 'SharedChannel spsc']));
    expect(r.verdictCells.map((c) => c.text)).toContain(
      'no clear difference: mutex ≈ atomic (1.04×)',
    );
    // Self-contained: no scripts, nothing fetched but the file.
    expect(r.scripts).toBe(0);
    expect(r.requests).toEqual([pathToFileURL(file).href]);
    // The screenshot is a 1400×900 PNG.
    const png = readFileSync(shot);
    expect(png.subarray(1, 4).toString()).toBe('PNG');
    expect([png.readUInt32BE(16), png.readUInt32BE(20)]).toEqual([1400, 900]);

    // Every group has its chart, with one bar per measured (design, threads).
    const groups = groupMeasurements(result.measurements);
    for (const g of groups) {
      const c = r.charts.find((x) => x.title === groupTitle(g));
      const cells = g.threads.flatMap((t) => g.designs.filter((d) => g.cell(d, t)));
      expect(
        c?.bars.map((b) => b.design),
        groupTitle(g),
      ).toEqual(cells);
    }
    // The five failures: naive and atomvisor in each of their charts; zeros as labelled stubs.
    const failureCharts = r.charts.filter((c) => /^F[1-5] /.test(c.title));
    expect(failureCharts).toHaveLength(7);
    for (const c of failureCharts) {
      expect(new Set(c.bars.map((b) => b.design))).toEqual(new Set(['naive', 'atomvisor']));
    }
    const zeros = r.charts.flatMap((c) => c.bars.filter((b) => b.zero));
    // F3 atomvisor's lost and torn, F4 naive's leaks found: in the summary and under Results.
    expect(zeros.map((b) => [b.value, b.shown])).toEqual(Array(6).fill([0, '0']));
    // Five decades in the shared-state throughput: a log axis with a gridline per decade.
    const throughput = r.charts.find((c) => c.title.startsWith('shared-state — throughput total'));
    expect(throughput?.scale).toBe('log');
    expect(throughput?.grid.map((g) => g.label).filter(Boolean)).toEqual(
      expect.arrayContaining(['10 k', '100 k', '1 M', '10 M']),
    );
    expect(r.charts.find((c) => c.title.startsWith('shared-state — fairness'))?.scale).toBe(
      'linear',
    );
    // Bar lengths follow the axis as rendered.
    expect(r.charts.flatMap(axisErrors)).toEqual([]);
    // One colour per design in every chart, different designs apart within a chart.
    const fills = new Map<string, Set<string>>();
    for (const c of r.charts) {
      const inChart = new Map<string, string>();
      for (const b of c.bars) {
        fills.set(b.design, (fills.get(b.design) ?? new Set()).add(b.fill));
        inChart.set(b.design, b.fill);
      }
      expect(new Set(inChart.values()).size, c.title).toBe(inChart.size);
    }
    for (const [design, set] of fills) expect(set.size, design).toBe(1);

    // Dark mode darkens the page and lightens the text; print is black on white with the
    // folded notes shown.
    const { screen, dark, print } = seen as Record<
      string,
      { background: string; text: string; noteShown: boolean }
    >;
    expect(luminance(screen!.background)).toBeGreaterThan(0.9);
    expect(screen!.noteShown).toBe(false);
    expect(luminance(dark!.background)).toBeLessThan(0.2);
    expect(luminance(dark!.text)).toBeGreaterThan(0.7);
    expect(luminance(print!.background)).toBeGreaterThan(0.9);
    expect(luminance(print!.text)).toBeLessThan(0.2);
    expect(print!.noteShown).toBe(true);
  }, 120_000);
});
