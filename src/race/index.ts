/**
 * `atomvisor/race`: the race harness. Declare tests in a file that default-exports them, then run
 * the file with `atomvisor race FILE` or `runRace({ files: [FILE] })`. See docs/race.md.
 */
export {
  type Actor,
  type ActorContext,
  type ArbiterContext,
  defineLinearizabilityTest,
  defineRaceTest,
  defineStressTest,
  type Expect,
  type ExploreOptions,
  type FaultOptions,
  InvariantViolation,
  isRaceTest,
  type LinearizabilityTestOptions,
  type OutcomeSpec,
  type RaceMode,
  type RaceTest,
  type RaceTestOptions,
  type StressTestOptions,
} from './define.ts';
export { RaceLoadError, RaceTestNotFoundError, RaceUnsupportedError } from './errors.ts';
export {
  type CheckOptions,
  checkLinearizability,
  counterModel,
  fifoModel,
  formatHistory,
  type HistoryOp,
  type LinearizabilityVerdict,
  minimalFailingHistory,
  registerModel,
  type SequentialModel,
  shortestFailingPrefix,
} from './linearizability.ts';
export { loadTests } from './load.ts';
export { formatValue, grade, outcomeId } from './outcomes.ts';
export { PLANTED_VARIANTS, type PlantedVariant } from './planted/index.ts';
export { formatReport } from './report.ts';
export {
  type RaceOptions,
  type RaceReport,
  type ReplayReport,
  replayTrace,
  runRace,
} from './run.ts';
export { RaceRunner } from './runner.ts';
export {
  formatSelfCheck,
  type SelfCheckOptions,
  type SelfCheckReport,
  selfCheck,
} from './self-check.ts';
export type {
  ExploreStrategy,
  OutcomeRow,
  OutcomeSample,
  TestReport,
  TestRunOptions,
} from './test-report.ts';
export { decodeTrace, encodeTrace, type ReplayTrace } from './trace.ts';
