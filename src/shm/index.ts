/** Shared-memory primitives: no Node I/O, usable from the main thread and from workers. */
export {
  type ChannelMode,
  type ChannelWaitOptions,
  type ReceiveResult,
  type SendResult,
  SharedChannel,
  type SharedChannelHandle,
  type SharedChannelOptions,
} from './channel.ts';
export { FrameRing, type FrameRingHandle, type FrameVisitor } from './frame-ring.ts';
export { LAYOUT_VERSION } from './layout.ts';
export { type LockAsyncOptions, Mutex, type MutexHandle } from './mutex.ts';
export { hasAtomicsPause } from './runtime.ts';
export { Seqlock, type SeqlockHandle, type SeqlockWaitOptions } from './seqlock.ts';
export {
  type BitField,
  compareAndSet,
  defineStateWord,
  StateWordLayout,
  type UpdateOptions,
  update,
} from './state-word.ts';
