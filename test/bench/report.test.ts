/**
 * The report's summary and charts, on a small synthetic run (test/bench/fixtures/report-result.ts):
 * verdicts with their margins and "no clear difference", the five failures, the request-path
 * comparison present only when that suite ran, the axis rule (log past two decades, every bar at
 * least 1% of the plot), one colour per design, and both report files in the order the issue asks.
 * The rendered page is checked in a real browser by report-browser.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { REQUEST_DESIGNS } from '../../bench/peers/request-drivers.ts';
import { chooseScale, designColours, PALETTE, textChart } from '../../bench/report/chart.ts';
import { groupMeasurements } from '../../bench/report/groups.ts';
import { htmlReport } from '../../bench/report/html.ts';
import { markdownReport } from '../../bench/report/markdown.ts';
import {
  failureFigures,
  requestPathComparison,
  verdicts,
  verdictText,
} from '../../bench/report/summary.ts';
import { summaryText } from '../../bench/report/text.ts';
import { syntheticResult } from './fixtures/report-result.ts';

const point = (median: number, spread = 0) => ({
  median,
  ciLow: median * (1 - spread),
  ciHigh: median * (1 + spread),
});

describe('axis rule', () => {
  it('is logarithmic past two decades, with a tick per decade, and linear from 0 otherwise', () => {
    const log = chooseScale([point(24e6), point(11e3), point(47e3)]);
    expect(log.kind).toBe('log');
    for (const t of log.ticks) expect(Math.log10(t) % 1).toBeCloseTo(0, 9);
    expect(log.lo).toBeLessThan(11e3);
    expect(log.at(24e6)).toBeCloseTo(1, 9);
    const linear = chooseScale([point(1), point(1.5), point(50)]);
    expect(linear.kind).toBe('linear');
    expect(linear.lo).toBe(0);
    expect(linear.at(25)).toBeCloseTo(0.5, 9);
    // Exactly two decades stays linear; a little more does not.
    expect(chooseScale([point(1), point(100)]).kind).toBe('linear');
    expect(chooseScale([point(1), point(101)]).kind).toBe('log');
    // An upper CI bound stretches the axis, so it counts towards the span.
    expect(chooseScale([point(1), { median: 50, ciLow: 40, ciHigh: 500 }]).kind).toBe('log');
  });

  it('gives every positive median at least 1% of the plot, whatever the span', () => {
    // Deterministic sweep: spans from 1× to 10^12×, the smallest value on, just above and off a
    // decade, with and without a CI.
    for (let decades = 0; decades <= 12; decades += 0.25) {
      for (const [smallest, spread] of [
        [1, 0.1],
        [1.01, 0],
        [1.3, 0.1],
        [3.7, 0],
        [1000, 0.1],
        [0.02, 0],
      ] as const) {
        const values = [smallest, smallest * 10 ** (decades / 2), smallest * 10 ** decades];
        const s = chooseScale(values.map((v) => point(v, spread)));
        for (const v of values) {
          expect(s.at(v), `${s.kind} ${values.join(',')}`).toBeGreaterThanOrEqual(0.01 - 1e-12);
        }
        // Order is kept: a larger value is never drawn shorter.
        expect(s.at(values[0]!)).toBeLessThanOrEqual(s.at(values[2]!));
      }
    }
  });

  it('leaves zeros out of the choice (they are drawn as a stub labelled 0)', () => {
    const s = chooseScale([point(0), point(5), point(7)]);
    expect(s.kind).toBe('linear');
    const text = textChart({
      title: 't',
      unit: 'count',
      better: 'lower',
      sections: [
        {
          bars: [
            { design: 'naive', label: 'naive', unit: 'count', ...point(12_000_000) },
            { design: 'atomvisor', label: 'atomvisor', unit: 'count', ...point(0) },
          ],
        },
      ],
    });
    expect(text).toMatch(/^naive +[█▉▊▋▌▍▎▏]+ +12 M$/m);
    expect(text).toMatch(/^atomvisor +· +0$/m);
  });
});

describe('colours', () => {
  it('one colour per design across charts, different within a chart', () => {
    const charts = [
      ['mutex', 'atomic', 'channel:postMessage', 'channel:comlink', 'channel:SharedChannel'],
      ['atomvisor', 'atomvisor:coordinator', 'generic-pool', 'tarn'],
      ['naive', 'atomvisor'],
      ['atomic', 'mutex'],
    ];
    const colours = designColours(charts);
    expect(colours.get('atomvisor')).toBe('#4e79a7');
    expect(colours.get('naive')).toBe('#e15759');
    for (const chart of charts) {
      expect(new Set(chart.map((d) => colours.get(d))).size).toBe(chart.length);
      for (const d of chart) expect(PALETTE).toContain(colours.get(d));
    }
  });
});

describe('summary', () => {
  const result = syntheticResult({ requestPath: true });

  it('names the winner per workload × threads and its margin over the runner-up', () => {
    const { rows, threads } = verdicts(result.measurements);
    expect(threads).toEqual([1, 2]);
    const row = (suite: string, workload: string) =>
      rows.find((r) => r.suite === suite && r.workload === workload);
    const readHeavy = row('shared-state', 'read-heavy 95/5');
    expect(readHeavy?.cells.get(1)?.winner.design).toBe('mutex');
    expect(readHeavy?.cells.get(1)?.ratio).toBeCloseTo(24 / 11.8, 6);
    const atomic = readHeavy?.cells.get(2);
    expect(atomic?.winner.design).toBe('atomic');
    expect(verdictText(atomic!)).toEqual({
      winner: 'atomic',
      clear: true,
      text: '1.28× over mutex',
    });
    // 9.7 M vs 9.3 M with ±5% CIs: they overlap.
    const mixed = row('shared-state', 'mixed 50/50')?.cells.get(2);
    expect(verdictText(mixed!)).toEqual({
      winner: 'mutex',
      clear: false,
      text: 'no clear difference: mutex ≈ atomic (1.04×)',
    });
    // Lower is better: the shortest round trip wins, by the runner-up's time over its own.
    const rtt = rows.find((r) => r.metric === 'round trip')?.cells.get(2);
    expect(rtt?.winner.design).toBe('SharedChannel spsc');
    expect(rtt?.runnerUp.design).toBe('postMessage');
    expect(rtt?.ratio).toBeCloseTo(51_400 / 1_100, 6);
    // Only headline metrics: no fairness rows, no scenarios, no request path.
    expect(rows.map((r) => r.metric)).not.toContain('fairness spread (max/min ops per thread)');
    expect(rows.map((r) => r.suite)).not.toContain('request-path');
  });

  it('draws the five failures naive beside atomvisor', () => {
    const figures = failureFigures(result.measurements);
    expect(figures.map((f) => f.id)).toEqual(['F1', 'F2', 'F3', 'F4', 'F5']);
    const [f1, f2, f3, f4] = figures;
    expect(f1?.caption).toContain('naive 995.50 ms, atomvisor 61.40 µs (16213× better)');
    // F2/F5: idle beside during, per design.
    expect(f2?.charts[0]?.sections.map((s) => [s.heading, s.bars.map((b) => b.label)])).toEqual([
      ['naive', ['idle', 'during']],
      ['atomvisor', ['idle', 'during']],
    ]);
    expect(f2?.caption).toContain('naive 302.80 ms (888× its idle p99)');
    expect(f3?.charts.map((c) => c.sections[0]?.bars.map((b) => b.median))).toEqual([
      [11_729_770, 0],
      [312_777, 0],
    ]);
    expect(f4?.caption).toContain('naive 0 of 2, atomvisor 2 of 2');
    // Without the scenarios suite there is nothing to draw.
    expect(failureFigures(result.measurements.filter((m) => m.suite !== 'scenarios'))).toEqual([]);
  });

  it('compares atomvisor with the direct client and the MCP SDK only when request-path ran', () => {
    const rp = requestPathComparison(result.measurements);
    expect(rp?.baselines).toEqual(['direct', 'mcp-sdk']);
    expect(rp?.ours).toEqual(REQUEST_DESIGNS.filter((d) => d.startsWith('atomvisor')));
    expect(rp?.rows).toHaveLength(12); // 2 workloads × 6 metrics
    expect(requestPathComparison(syntheticResult().measurements)).toBeUndefined();

    const html = htmlReport(result);
    const md = markdownReport(result);
    for (const text of [html, md]) {
      expect(text).toContain('Request path: atomvisor against the direct client and the MCP SDK');
      // 100 B pipelined: 130 k vs 170 k (direct) and 43 k (mcp-sdk) req/s.
      expect(text).toContain('0.76× direct');
      expect(text).toContain('3.02× mcp-sdk');
      // Lower is better: 3.6 µs of main thread vs 5 µs direct, 13 µs mcp-sdk.
      expect(text).toContain('1.39× direct');
      expect(text).toContain('3.61× mcp-sdk');
    }
    const without = syntheticResult();
    expect(htmlReport(without)).not.toContain('Request path');
    expect(markdownReport(without)).not.toContain('Request path');
  });
});

describe('report files', () => {
  const result = syntheticResult({ requestPath: true });

  it('report.md: summary first, then targets with counts and folded notes, then the tables', () => {
    const md = markdownReport(result);
    const at = (s: string) => md.indexOf(s);
    expect(at('## Summary')).toBeGreaterThan(0);
    expect(at('## Summary')).toBeLessThan(at('## Targets: 1 met, 1 missed, 1 not run'));
    expect(at('## Targets')).toBeLessThan(at('## Results'));
    expect(md).toContain('| shared-state: throughput total (higher is better) | read-heavy 95/5 |');
    expect(md).toContain('**atomic** 1.28× over mutex (15.10 M ops/s)');
    expect(md).toContain('no clear difference: mutex ≈ atomic (1.04×)');
    expect(md).toMatch(/<details><summary>Notes on 2 targets<\/summary>/);
    expect(md).toMatch(/^naive +[█▉▊▋▌▍▎▏]+ +995\.50 ms$/m);
    expect(md).toMatch(/\(log scale from 10 µs, ×10 per decade; lower is better\)/);
  });

  it('report.html: self-contained, summary before targets, notes and tables folded', () => {
    const html = htmlReport(result);
    expect(html).not.toMatch(/https?:/);
    expect(html).not.toMatch(/<script|<link|@import|url\(/);
    const at = (s: string) => html.indexOf(s);
    expect(at('id="summary"')).toBeLessThan(at('id="targets"'));
    expect(at('id="targets"')).toBeLessThan(at('id="results"'));
    expect(html).toContain('Targets: 1 met, 1 missed, 1 not run');
    expect(html.match(/<details class="note">/g)).toHaveLength(2);
    // One chart per group plus the failures' charts (F3 and F4 have two each).
    const groups = groupMeasurements(result.measurements);
    const charts = html.match(/<svg class="chart"/g) ?? [];
    expect(charts).toHaveLength(groups.length + 7);
    expect(html.match(/<details class="numbers">/g)).toHaveLength(groups.length);
    // The shared-state throughput spans five decades: log; the fairness spread: linear.
    const svgFor = (title: string) =>
      html.slice(html.lastIndexOf('<svg', html.indexOf(`aria-label="${title}`)));
    expect(svgFor('shared-state — throughput total, read-heavy')).toMatch(
      /^<svg[^>]*data-scale="log"/,
    );
    expect(svgFor('shared-state — fairness spread')).toMatch(/^<svg[^>]*data-scale="linear"/);
    expect(html).toContain('@media (prefers-color-scheme:dark)');
    expect(html).toContain('@media print');
  });

  it('prints the verdicts and the failures at the end of a run', () => {
    const text = summaryText(result);
    expect(text).toMatch(
      /shared-state: throughput total, read-heavy 95\/5 +T=2 +atomic, 1\.28× over mutex/,
    );
    expect(text).toContain('F5 — one long request on session A');
    expect(summaryText({ ...result, measurements: [] })).toBe('');
  });
});
