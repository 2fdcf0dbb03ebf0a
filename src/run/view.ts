/**
 * The live view of `atomvisor run` on a terminal: a table redrawn in place (on the alternate
 * screen, like top) with one row per replica — name, status, pid, uptime, CPU and memory (the
 * whole process group's), restarts, probe states, lease and in-flight requests, last error — and the
 * latest events below it. It only reads
 * lock-free snapshots (RunStatus), twice a second and on resize; it never waits on a connection.
 * Leaving it (shutdown) restores the screen, so what follows prints as ordinary lines.
 */
import type { WriteStream } from 'node:tty';
import { formatLine, type Reporter } from './log.ts';
import type { ReplicaRow, RunStatus } from './status.ts';

const ESC = '\x1b[';
const ALT_SCREEN_ON = `${ESC}?1049h`;
const ALT_SCREEN_OFF = `${ESC}?1049l`;
const CURSOR_HIDE = `${ESC}?25l`;
const CURSOR_SHOW = `${ESC}?25h`;
const HOME = `${ESC}H`;
const CLEAR_LINE = `${ESC}K`;
const CLEAR_BELOW = `${ESC}J`;

const COLUMNS = [
  'NAME',
  'STATUS',
  'PID',
  'UPTIME',
  'CPU',
  'MEM',
  'RESTARTS',
  'PROBES',
  'LEASE/IN-FLIGHT',
  'LAST ERROR',
] as const;

export function formatDuration(ms: number | undefined): string {
  if (ms === undefined || ms < 0) return '-';
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(h / 24)}d${String(h % 24).padStart(2, '0')}h`;
}

/** Bytes as the view shows them: 512K, 48M, 1.2G. */
export function formatBytes(bytes: number | undefined): string {
  if (bytes === undefined) return '-';
  const mb = bytes / 2 ** 20;
  if (mb < 1) return `${Math.round(bytes / 1024)}K`;
  if (mb < 1024) return `${Math.round(mb)}M`;
  return `${(mb / 1024).toFixed(1)}G`;
}

function probesText(row: ReplicaRow): string {
  const parts: string[] = [];
  for (const [name, p] of Object.entries(row.probes)) {
    const mark = p.state === 'ok' ? '✓' : p.state === 'failing' ? `✗${p.failures}` : '…';
    parts.push(`${name[0]?.toUpperCase()}${mark}`);
  }
  return parts.length === 0 ? '-' : parts.join(' ');
}

function statusText(row: ReplicaRow): string {
  return row.unready && (row.status === 'ready' || row.status === 'leased')
    ? `${row.status}(unready)`
    : row.status;
}

/** The table's cells, one array per row (the header first); plain text, no colour. */
export function tableCells(rows: readonly ReplicaRow[]): string[][] {
  return [
    [...COLUMNS],
    ...rows.map((r) => [
      r.name,
      statusText(r),
      r.uptimeMs === undefined ? '-' : String(r.pid),
      formatDuration(r.uptimeMs),
      r.cpuPercent === undefined ? '-' : `${Math.round(r.cpuPercent)}%`,
      formatBytes(r.rssBytes),
      String(r.restarts),
      probesText(r),
      `${r.leaseId === 0 ? '-' : `#${r.leaseId} ${formatDuration(r.leaseAgeMs)}`} / ${r.inFlight}`,
      r.lastError?.message ?? '',
    ]),
  ];
}

function colour(row: ReplicaRow | undefined, text: string): string {
  if (row === undefined) return `${ESC}1m${text}${ESC}0m`;
  const code = row.ready
    ? 32
    : row.status === 'failed' || row.status === 'exited'
      ? 31
      : row.status === 'starting' || row.unready
        ? 33
        : 0;
  return code === 0 ? text : `${ESC}${code}m${text}${ESC}0m`;
}

export class LiveView implements Reporter {
  readonly #out: WriteStream;
  readonly #status: RunStatus;
  readonly #header: () => string;
  readonly #recent: string[] = [];
  readonly #onResize = () => this.render();
  #timer: NodeJS.Timeout | undefined;

  constructor(out: WriteStream, status: RunStatus, header: () => string) {
    this.#out = out;
    this.#status = status;
    this.#header = header;
  }

  start(intervalMs = 500): void {
    this.#out.write(ALT_SCREEN_ON + CURSOR_HIDE);
    this.#out.on('resize', this.#onResize);
    this.render();
    this.#timer = setInterval(() => this.render(), intervalMs);
  }

  /** Restore the terminal. Idempotent. */
  stop(): void {
    if (this.#timer === undefined) return;
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#out.off('resize', this.#onResize);
    this.#out.write(CURSOR_SHOW + ALT_SCREEN_OFF);
  }

  event(name: string, fields: object = {}): void {
    this.#recent.push(formatLine(new Date(), name, fields).slice(11)); // time of day is enough
    if (this.#recent.length > 50) this.#recent.shift();
  }

  render(): void {
    const width = this.#out.columns || 120;
    const height = this.#out.rows || 30;
    const rows = this.#status.rows();
    const cells = tableCells(rows);
    const widths = COLUMNS.map((_, c) => Math.max(...cells.map((line) => line[c]?.length ?? 0)));
    const useColour = this.#out.hasColors?.() ?? false;
    const lines: string[] = [this.#header().slice(0, width), ''];
    cells.forEach((line, i) => {
      const text = line
        .map((cell, c) => (c === line.length - 1 ? cell : cell.padEnd(widths[c] ?? 0)))
        .join('  ')
        .slice(0, width);
      lines.push(useColour ? colour(i === 0 ? undefined : rows[i - 1], text) : text);
    });
    const room = height - lines.length - 3;
    if (room > 0) {
      lines.push('', 'recent events:');
      for (const line of this.#recent.slice(-room)) lines.push(`  ${line}`.slice(0, width));
    }
    this.#out.write(`${HOME}${lines.join(`${CLEAR_LINE}\n`)}${CLEAR_LINE}${CLEAR_BELOW}`);
  }
}
