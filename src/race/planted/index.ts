/**
 * The planted-bug variants the self-check (`atomvisor race --self-check`) must catch. The suites
 * (src/race/suites) run each scenario against atomvisor's primitive (variant 'correct') and
 * against the planted variants listed here (a test's `variant` field names one).
 */
export const PLANTED_VARIANTS = {
  'check-then-set-lock': 'a lock that takes a free word with a load and then a store',
  'unlock-without-owner-check': 'a mutex whose unlock() releases the lock for any caller',
  'lost-update-counter': 'a counter incremented with load, add, store instead of a CAS loop',
  'seqlock-reader-without-retry': 'a seqlock reader that never re-checks the sequence',
  'channel-index-before-data': 'a channel that publishes the write index before the message',
  'frame-ring-index-before-bytes':
    'a frame ring that publishes its tail before the frame is written',
  'state-cas-without-generation': 'a state-word CAS that does not check the generation',
  'notify-before-store': 'an unlock that wakes the waiter before the store it announces',
  'wait-ignores-spurious-wakeup': 'a lock whose waiter treats any wake-up as ownership',
} as const;

export type PlantedVariant = keyof typeof PLANTED_VARIANTS;

/** Which implementation a suite test exercises: atomvisor's own ('correct') or a planted bug. */
export type Variant = 'correct' | PlantedVariant;

/**
 * A suite test's name and variant fields: the test of a planted variant is named
 * `<name> [<variant>]` and carries its bug in `planted` (the default run leaves it out; the
 * self-check expects it to fail).
 */
export function variantFields(
  name: string,
  variant: Variant,
): { name: string; variant: Variant; planted?: string } {
  return variant === 'correct'
    ? { name, variant }
    : { name: `${name} [${variant}]`, variant, planted: PLANTED_VARIANTS[variant] };
}
