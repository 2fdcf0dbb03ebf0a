import { describe, expect, it } from 'vitest';
import {
  checkLinearizability,
  counterModel,
  fifoModel,
  formatHistory,
  type HistoryOp,
  minimalFailingHistory,
  registerModel,
  shortestFailingPrefix,
} from '../../src/race/linearizability.ts';

const op = (
  actor: number,
  name: string,
  input: unknown,
  output: unknown,
  call: number,
  ret: number,
): HistoryOp => ({
  actor,
  op: name,
  input,
  output,
  call,
  ret,
});

describe('linearizability checker', () => {
  it('accepts overlapping increments in either order, refuses a lost one', () => {
    const ok = [op(0, 'inc', undefined, 1, 1, 4), op(1, 'inc', undefined, 0, 2, 3)];
    expect(checkLinearizability(counterModel, ok)).toBe('linearizable');
    const lost = [op(0, 'inc', undefined, 0, 1, 4), op(1, 'inc', undefined, 0, 2, 3)];
    expect(checkLinearizability(counterModel, lost)).toBe('not linearizable');
  });

  it('respects real-time order: no reordering of operations that did not overlap', () => {
    // write(1) returned before read started, so read must see 1
    const h = [op(0, 'write', 1, undefined, 1, 2), op(1, 'read', undefined, 0, 3, 4)];
    expect(checkLinearizability(registerModel(0), h)).toBe('not linearizable');
    const overlapping = [op(0, 'write', 1, undefined, 1, 3), op(1, 'read', undefined, 0, 2, 4)];
    expect(checkLinearizability(registerModel(0), overlapping)).toBe('linearizable');
  });

  it('treats operations that never returned as pending: they may or may not have happened', () => {
    const tookEffect = [
      op(0, 'write', 7, undefined, 1, Infinity),
      op(1, 'read', undefined, 7, 2, 3),
    ];
    expect(checkLinearizability(registerModel(0), tookEffect)).toBe('linearizable');
    const didNot = [op(0, 'write', 7, undefined, 1, Infinity), op(1, 'read', undefined, 0, 2, 3)];
    expect(checkLinearizability(registerModel(0), didNot)).toBe('linearizable');
  });

  it('checks a bounded FIFO queue, and finds the shortest failing prefix with its context', () => {
    const q = fifoModel(1);
    const h = [
      op(0, 'send', 1, 'sent', 1, 2),
      op(0, 'send', 2, 'full', 3, 4),
      op(1, 'receive', undefined, 1, 5, 6),
      op(1, 'receive', undefined, 2, 7, 8), // 2 was refused: cannot come out
      op(0, 'send', 3, 'sent', 9, 10),
    ];
    expect(checkLinearizability(q, h)).toBe('not linearizable');
    const prefix = shortestFailingPrefix(q, h);
    expect(prefix.map((x) => x.input ?? x.output)).toEqual([1, 2, 1, 2]);
    expect(formatHistory(prefix)).toContain('actor 1: receive() → 2   [7, 8]');
    // the greedy shrinker drops context (here: the refused send is not needed)
    expect(minimalFailingHistory(q, h).length).toBeLessThanOrEqual(prefix.length);
  });

  it('gives up with "unknown" when the search budget runs out', () => {
    const h = Array.from({ length: 16 }, (_, i) => op(i % 4, 'inc', undefined, i, 0, 100 + i));
    expect(checkLinearizability(counterModel, h, { maxSteps: 10 })).toBe('unknown');
  });
});
