/**
 * The deterministic traffic of the frame-ring tests: message i of a seeded run has a length drawn
 * from a small PRNG (mostly small, some over one frame, a few over the whole ring) and bytes that
 * encode i and their own position, so a reader can tell a lost, duplicated, reordered or torn
 * message from the right one without any shared state with the writer.
 */
export function lengths(seed: number, count: number, maxBytes: number): number[] {
  let x = seed >>> 0 || 1;
  const next = () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 2 ** 32;
  };
  return Array.from({ length: count }, () => {
    const r = next();
    if (r < 0.7) return Math.floor(next() * 200);
    if (r < 0.95) return Math.floor(next() * 8192);
    return Math.floor(next() * maxBytes);
  });
}

export function message(i: number, length: number): Buffer {
  const b = Buffer.alloc(length);
  for (let j = 0; j < length; j++) b[j] = (i * 31 + j * 7 + (j >> 8)) & 0xff;
  if (length >= 4) b.writeInt32LE(i, 0);
  return b;
}

/** Why `data[start, end)` is not message i of `length` bytes, or undefined when it is. */
export function mismatch(
  i: number,
  length: number,
  data: Uint8Array,
  start: number,
  end: number,
): string | undefined {
  if (end - start !== length) return `message ${i}: ${end - start} bytes, expected ${length}`;
  const expected = message(i, length);
  for (let j = 0; j < length; j++) {
    if (data[start + j] !== expected[j])
      return `message ${i}: byte ${j} is ${data[start + j]}, expected ${expected[j]}`;
  }
  return undefined;
}
