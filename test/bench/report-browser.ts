/**
 * Opens a report.html in a real headless Chromium (Debian's `chromium`, driven by playwright-core;
 * never a downloaded browser) and measures what a reader sees: where the summary sits against the
 * first viewport, and every chart's bars as rendered (getBoundingClientRect of each bar's rect,
 * its computed fill, the decade gridlines' positions). Used by report-browser.test.ts, and from
 * the command line to check a real run's report and take the screenshot for docs/benchmarks.md:
 *
 *   npx tsx test/bench/report-browser.ts bench-results/<run>/report.html [screenshot.png]
 *
 * Every browser it starts gets a fresh profile directory and is closed (and the directory
 * removed) before the call returns, also on failure.
 */
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Page } from 'playwright-core';

export const VIEWPORT = { width: 1400, height: 900 } as const;

// Playwright adds --headless itself.
const FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** The chromium executable: $CHROMIUM if set, else `chromium` / `chromium-browser` on PATH. */
export function findChromium(): { path: string } | { missing: string } {
  const explicit = process.env.CHROMIUM;
  const candidates = explicit
    ? [explicit]
    : (process.env.PATH ?? '')
        .split(delimiter)
        .filter(Boolean)
        .flatMap((dir) => [join(dir, 'chromium'), join(dir, 'chromium-browser')])
        .concat('/usr/bin/chromium');
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      return { path: c };
    } catch {
      // not this one
    }
  }
  return {
    missing: explicit
      ? `$CHROMIUM=${explicit} is not an executable file`
      : 'no chromium or chromium-browser executable on PATH (Debian: apt-get install chromium; .ci/run installs it)',
  };
}

export interface RenderedBar {
  design: string;
  label: string;
  value: number;
  /** The value printed beside the bar. */
  shown: string;
  /** Rendered width and left edge of the bar's rect, in CSS px. */
  width: number;
  left: number;
  fill: string;
  zero: boolean;
}

export interface RenderedChart {
  /** The chart's accessible name (its group title, or the failure figure's title). */
  title: string;
  scale: 'log' | 'linear';
  /** The chart's own width as rendered, in CSS px (it may be scaled down to fit). */
  width: number;
  bars: RenderedBar[];
  /** Gridlines as rendered: x in CSS px and the label under it ('' when the label is skipped). */
  grid: { x: number; label: string }[];
}

export interface RenderedReport {
  viewport: { width: number; height: number };
  /** Bounding boxes (document coordinates, CSS px) of the summary heading and verdict table. */
  summaryTop: number;
  verdictsBottom: number;
  /** Each verdict cell: its winner and whether it lies wholly within the first viewport. */
  verdictCells: { winner: string; text: string; inFirstViewport: boolean }[];
  charts: RenderedChart[];
  scripts: number;
  /** Every URL the page requested. */
  requests: string[];
}

/**
 * Runs in the page. Kept as plain JavaScript text: a function passed from here would carry the
 * helpers tsx/esbuild add to transpiled code (`__name`), which the page does not have.
 */
const MEASURE = `(() => {
  const box = (el) => {
    const r = el && el.getBoundingClientRect();
    return r ? { top: r.top + window.scrollY, bottom: r.bottom + window.scrollY } : undefined;
  };
  const h = window.innerHeight;
  const charts = [...document.querySelectorAll('svg.chart')].map((svg) => {
    const bars = [...svg.querySelectorAll('g.bar')].map((g) => {
      const rect = g.querySelector('rect.b');
      const r = rect.getBoundingClientRect();
      const label = g.querySelector('text.label');
      const shown = g.querySelector('text.value');
      return {
        design: g.getAttribute('data-design') || '',
        label: label ? label.textContent : '',
        value: Number(g.getAttribute('data-value')),
        shown: shown ? shown.textContent : '',
        width: r.width,
        left: r.left,
        fill: getComputedStyle(rect).fill,
        zero: g.classList.contains('zero'),
      };
    });
    const ticks = new Map();
    for (const t of svg.querySelectorAll('text.tick')) ticks.set(t.getAttribute('x'), t.textContent);
    const grid = [...svg.querySelectorAll('line.grid')].map((l) => ({
      x: l.getBoundingClientRect().left,
      label: ticks.get(l.getAttribute('x1')) || '',
    }));
    return {
      title: svg.getAttribute('aria-label') || '',
      scale: svg.getAttribute('data-scale') || 'linear',
      width: svg.getBoundingClientRect().width,
      bars,
      grid,
    };
  });
  const cells = [...document.querySelectorAll('table.verdicts td[data-winner]')].map((td) => {
    const r = td.getBoundingClientRect();
    return {
      winner: td.getAttribute('data-winner') || '',
      text: (td.textContent || '').replace(/\\s+/g, ' ').trim(),
      inFirstViewport: r.top + window.scrollY >= 0 && r.bottom + window.scrollY <= h,
    };
  });
  const summary = box(document.querySelector('#summary'));
  const verdicts = box(document.querySelector('table.verdicts'));
  return {
    viewport: { width: window.innerWidth, height: h },
    summaryTop: summary ? summary.top : NaN,
    verdictsBottom: verdicts ? verdicts.bottom : NaN,
    verdictCells: cells,
    charts,
    scripts: document.scripts.length,
  };
})()`;

/** Measure an open page, scrolled to the top (see RenderedReport). */
export async function measure(page: Page): Promise<Omit<RenderedReport, 'requests'>> {
  return (await page.evaluate(MEASURE)) as Omit<RenderedReport, 'requests'>;
}

export interface OpenOptions {
  chromium: string;
  /** Save a screenshot of the first viewport here. */
  screenshot?: string;
  /** Also run these checks on the open page (dark mode, print...). */
  extra?: (page: Page) => Promise<void>;
}

/** Open `file` at 1400×900, measure it, optionally screenshot it; always closes the browser. */
export async function inspectReport(file: string, options: OpenOptions): Promise<RenderedReport> {
  const { chromium } = await import('playwright-core');
  const profile = mkdtempSync(join(tmpdir(), 'atomvisor-chromium-'));
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: options.chromium,
    args: FLAGS,
    viewport: { ...VIEWPORT },
    colorScheme: 'light',
    timeout: 60_000,
  });
  try {
    const page = browser.pages()[0] ?? (await browser.newPage());
    const requests: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    await page.goto(pathToFileURL(resolve(file)).href, { waitUntil: 'load' });
    if (options.screenshot) await page.screenshot({ path: options.screenshot });
    const measured = await measure(page);
    await options.extra?.(page);
    return { ...measured, requests };
  } finally {
    await browser.close();
    rmSync(profile, { recursive: true, force: true });
  }
}

/** What the acceptance asks of a report, as a list of problems (empty = it holds). */
export function problems(r: RenderedReport, minBarPx = 2): string[] {
  const out: string[] = [];
  if (!(r.summaryTop < r.viewport.height)) out.push(`summary starts at ${r.summaryTop} px`);
  if (!(r.verdictsBottom <= r.viewport.height)) {
    out.push(`verdict table ends at ${r.verdictsBottom} px, below the first viewport`);
  }
  if (!r.verdictCells.length) out.push('no verdict cells');
  for (const c of r.verdictCells) {
    if (!c.inFirstViewport) out.push(`verdict "${c.text}" is outside the first viewport`);
  }
  if (!r.charts.length) out.push('no charts');
  for (const c of r.charts) {
    if (!c.bars.length) out.push(`${c.title}: no bars`);
    for (const b of c.bars) {
      if (!(b.width >= minBarPx)) {
        out.push(`${c.title}: ${b.label} (${b.design}) is ${b.width.toFixed(2)} px wide`);
      }
    }
  }
  return out;
}

async function main(argv: string[]): Promise<number> {
  const [file, screenshot] = argv;
  if (!file) {
    console.error('usage: tsx test/bench/report-browser.ts report.html [screenshot.png]');
    return 2;
  }
  const found = findChromium();
  if ('missing' in found) {
    console.error(found.missing);
    return 2;
  }
  const r = await inspectReport(file, {
    chromium: found.path,
    ...(screenshot ? { screenshot } : {}),
  });
  const bars = r.charts.flatMap((c) => c.bars.map((b) => ({ ...b, chart: c.title })));
  const zeros = bars.filter((b) => b.zero);
  const narrowest = bars
    .filter((b) => !b.zero)
    .reduce((a, b) => (b.width < a.width ? b : a), {
      width: Number.POSITIVE_INFINITY,
      label: '',
      chart: '',
    });
  console.log(
    `${r.charts.length} charts (${r.charts.filter((c) => c.scale === 'log').length} log), ${bars.length} bars (${zeros.length} zeros drawn as ${zeros.map((b) => b.width.toFixed(1)).join('/') || '-'} px stubs); narrowest non-zero bar ${narrowest.width.toFixed(1)} px (${narrowest.label} in "${narrowest.chart}"); verdict table ends at ${r.verdictsBottom.toFixed(0)} of ${r.viewport.height} px; ${r.verdictCells.length} verdicts; ${r.scripts} scripts; ${r.requests.length} request(s)`,
  );
  const found2 = problems(r);
  for (const p of found2) console.log(`problem: ${p}`);
  return found2.length ? 1 : 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
