/** The coordinator's public surface, as `atomvisor` (src/index.ts) exports it. */
export type { FramingProtocol } from '../io/framing.ts';
export { decodeProbeCounts, type ProbeCounts } from '../probes/counters.ts';
export type { ProbeKind, ProbeName, ProbeSpec, ProbeTiming } from '../probes/spec.ts';
export type {
  ProbeEvent,
  ProbeStats,
  RoundReport,
  RoundSection,
  UnhealthyEvent,
} from '../probes/types.ts';
export { Coordinator, createCoordinator } from './coordinator.ts';
export {
  CHANNEL_NAMES,
  type EventMessage,
  type LeaseMessage,
  type RequestMessage,
} from './diagnostics.ts';
export type { CoordinatorEventName, CoordinatorEvents } from './events.ts';
export type { NotificationHandler, PeerContext, RequestHandler } from './handlers.ts';
export { Lease } from './lease.ts';
export { type CoordinatorOptions, DEFAULT_ENV_ALLOW } from './options.ts';
export type { ReloadReport } from './reload.ts';
export type { ConnectionSpec, StartingConnection } from './spec.ts';
export type {
  AcquireOptions,
  ConnectionSnapshot,
  CoordinatorStats,
  ReplicaSnapshot,
  RequestOptions,
} from './types.ts';
