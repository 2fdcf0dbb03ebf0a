/** Small, honest statistics for benchmark samples: medians and a 95% CI of the median. */

export interface Summary {
  median: number;
  /** 95% confidence interval of the median (order statistics; distribution-free). */
  ciLow: number;
  ciHigh: number;
  samples: number;
}

export function summarise(values: readonly number[]): Summary {
  const sorted = [...values].sort((a, b) => a - b);
  const n = sorted.length;
  if (n === 0) return { median: Number.NaN, ciLow: Number.NaN, ciHigh: Number.NaN, samples: 0 };
  const median =
    n % 2 === 1
      ? (sorted[(n - 1) / 2] as number)
      : ((sorted[n / 2 - 1] as number) + (sorted[n / 2] as number)) / 2;
  // Ranks n/2 ± 1.96·√n/2 bound the median with ~95% confidence for any distribution.
  const half = (1.96 * Math.sqrt(n)) / 2;
  const lo = Math.max(0, Math.floor(n / 2 - half));
  const hi = Math.min(n - 1, Math.ceil(n / 2 + half) - 1);
  return { median, ciLow: sorted[lo] as number, ciHigh: sorted[hi] as number, samples: n };
}

export function formatNs(ns: number): string {
  if (!Number.isFinite(ns)) return 'n/a';
  if (ns < 1_000) return `${ns.toFixed(ns < 10 ? 2 : 1)} ns`;
  if (ns < 1_000_000) return `${(ns / 1_000).toFixed(2)} µs`;
  return `${(ns / 1_000_000).toFixed(2)} ms`;
}

export function formatRate(perSecond: number): string {
  if (perSecond >= 1e6) return `${(perSecond / 1e6).toFixed(2)} M/s`;
  if (perSecond >= 1e3) return `${(perSecond / 1e3).toFixed(1)} k/s`;
  return `${perSecond.toFixed(0)} /s`;
}

/** The q-quantile (0..1) of already sorted values, nearest rank; NaN when empty. */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const rank = Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1));
  return sorted[rank] as number;
}

/** A measured figure in its unit, compact: "12.3 M/s", "48.1 ns", "1.20 ms", "3 count". */
export function formatValue(value: number, unit: string): string {
  if (!Number.isFinite(value)) return 'n/a';
  if (unit === 'ns/op' || unit === 'ns') return formatNs(value);
  if (unit === 'µs') return formatNs(value * 1e3);
  if (unit === 'ms') return formatNs(value * 1e6);
  if (unit.endsWith('/s')) return `${formatRate(value).replace(/ ?\/s$/, '')} ${unit}`;
  if (unit === 'ratio' || unit === '×') return `${value.toFixed(2)}×`;
  if (unit === 'bytes') return formatBytes(value);
  const digits = Math.abs(value) >= 100 || Number.isInteger(value) ? 0 : 2;
  return `${value.toFixed(digits)} ${unit}`;
}

/** Bytes in binary units: "512 B", "64.0 KiB", "95.4 MiB", "1.20 GiB". */
export function formatBytes(bytes: number): string {
  const a = Math.abs(bytes);
  if (a >= 2 ** 30) return `${(bytes / 2 ** 30).toFixed(2)} GiB`;
  if (a >= 2 ** 20) return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
  if (a >= 2 ** 10) return `${(bytes / 2 ** 10).toFixed(1)} KiB`;
  return `${bytes.toFixed(0)} B`;
}

/** A CI bound next to its median: the number without a repeated rate unit ("12.0 M", "3.1 µs"). */
export function formatBound(value: number, unit: string): string {
  const full = formatValue(value, unit);
  return unit.endsWith('/s') || unit === '×' || unit === 'ratio'
    ? full.replace(/ ?[^ ]*\/s$/, '')
    : full;
}
