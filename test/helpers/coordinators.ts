/**
 * Coordinators made by a test file, with test-friendly defaults, all closed by `closeAll()` (call
 * it in afterEach) so no test leaves processes or workers behind.
 */
import { type Coordinator, type CoordinatorOptions, createCoordinator } from '../../src/index.ts';

export function coordinatorsFor(defaults: CoordinatorOptions) {
  const open: Coordinator[] = [];
  return {
    make(options: CoordinatorOptions = {}): Coordinator {
      const c = createCoordinator({ ...defaults, ...options });
      open.push(c);
      return c;
    },
    closeAll(): Promise<unknown> {
      return Promise.all(open.splice(0).map((c) => c.close({ timeoutMs: 1_000 })));
    },
  };
}
