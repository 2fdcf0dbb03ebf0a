/**
 * Built-in race suite: atomvisor's Mutex, and the planted-bug locks the self-check must catch.
 *
 * - mutex/exclusion          two threads lock once each and bump a counter inside: no overlap,
 *                            no lost update, no lost wake-up (deadlock).
 * - mutex/spurious-wakeups   the same under injected spurious wake-ups of Atomics.wait.
 * - mutex/owner              a thread that does not hold the lock cannot release it.
 * - mutex/owner-death        with an actor thread killed mid-operation: the holder's death is
 *                            recoverable (faults).
 */
import { Mutex, type MutexHandle } from '../../shm/mutex.ts';
import { type ActorContext, defineRaceTest, type RaceTest } from '../define.ts';
import { type Variant, variantFields } from '../planted/index.ts';
import {
  checkThenSetLock,
  type LockLike,
  notifyBeforeStoreLock,
  unlockWithoutOwnerCheck,
  wakeMeansMineLock,
} from '../planted/locks.ts';

interface State {
  mutex: MutexHandle;
  /** [0] counter, [1] threads inside the critical section */
  data: Int32Array;
}

const setup = (): State => ({
  mutex: Mutex.create().handle,
  data: new Int32Array(new SharedArrayBuffer(8)),
});

type MakeLock = (handle: MutexHandle) => LockLike;
const realMutex: MakeLock = (handle) => Mutex.from(handle);

/** Stress mode: make the critical section long enough for the other thread to arrive. */
function dwell(ctx: ActorContext): number {
  let x = 0;
  if (ctx.mode === 'stress') for (let i = 0; i < 300; i++) x = (x + i) | 0;
  return x;
}

function criticalSection(make: MakeLock) {
  return (s: State, ctx: ActorContext): string => {
    const m = make(s.mutex);
    m.lock();
    const inside = Atomics.add(s.data, 1, 1);
    const v = Atomics.load(s.data, 0);
    dwell(ctx);
    Atomics.store(s.data, 0, v + 1);
    Atomics.sub(s.data, 1, 1);
    m.unlock();
    return inside === 0 ? 'alone' : 'overlap';
  };
}

function exclusion(
  name: string,
  variant: Variant,
  make: MakeLock,
  spurious: number,
): RaceTest<State> {
  const actor = criticalSection(make);
  return defineRaceTest<State>({
    ...variantFields(name, variant),
    description: 'two threads take the lock once each and bump a counter inside it',
    faults: { spurious },
    setup,
    actors: [actor, actor],
    arbiter: (s) => Atomics.load(s.data, 0),
    outcomes: [
      { id: 'alone,alone,2', expect: 'acceptable', desc: 'one after the other' },
      { id: /.*overlap.*/, expect: 'forbidden', desc: 'two threads inside the critical section' },
      { id: 'deadlock', expect: 'forbidden', desc: 'a waiter was never woken (lost wake-up)' },
    ],
  });
}

function owner(variant: Variant, make: MakeLock): RaceTest<State> {
  return defineRaceTest<State>({
    ...variantFields('mutex/owner', variant),
    description: 'a thread that does not hold the lock tries to unlock it',
    setup,
    actors: [
      (s) => {
        const m = make(s.mutex);
        m.lock();
        Atomics.add(s.data, 0, 1);
        m.unlock();
        return 'locked';
      },
      (s) => {
        const m = make(s.mutex);
        try {
          m.unlock();
          return 'released';
        } catch (error) {
          return (error as { code?: string }).code === 'ERR_ATOMVISOR_NOT_OWNER'
            ? 'refused'
            : 'other-error';
        }
      },
    ],
    outcomes: [
      { id: 'locked,refused', expect: 'acceptable', desc: 'the stranger was refused' },
      { id: /.*released/, expect: 'forbidden', desc: 'a thread released a lock it did not hold' },
    ],
  });
}

function holdBriefly(s: State): string {
  const m = Mutex.from(s.mutex);
  if (!m.lock(50)) return 'timeout';
  Atomics.add(s.data, 0, 1);
  Atomics.add(s.data, 0, 1);
  m.unlock();
  return 'got';
}

const ownerDeath = defineRaceTest<State>({
  name: 'mutex/owner-death',
  variant: 'correct',
  description:
    'two threads hold the lock briefly (lock with a 50 ms timeout); with kill faults one may die holding it: the other must time out, and the dead owner must be recoverable',
  faults: { kill: 0.3 },
  setup,
  actors: [holdBriefly, holdBriefly],
  arbiter: (s, ctx) => {
    const m = Mutex.from(s.mutex);
    let recovered = false;
    for (const actor of ctx.killed) {
      if (m.recoverFromDeadOwner(ctx.threadIds[actor]!)) recovered = true;
    }
    if (m.isLocked) return 'held';
    return recovered ? 'recovered' : 'free';
  },
  outcomes: [
    { id: 'got,got,free', expect: 'acceptable' },
    {
      id: /.*held$/,
      expect: 'forbidden',
      desc: 'the lock stayed held (leaked, or a dead owner not recoverable)',
    },
    {
      id: /.*killed.*/,
      expect: 'forbidden',
      underFaults: 'acceptable',
      desc: 'a thread was killed; the lock was free or recovered',
    },
    {
      id: /.*timeout.*/,
      expect: 'interesting',
      desc: 'gave up after 50 ms although the holder was alive',
    },
  ],
});

export default [
  exclusion('mutex/exclusion', 'correct', realMutex, 0),
  exclusion('mutex/exclusion', 'check-then-set-lock', checkThenSetLock, 0),
  exclusion('mutex/exclusion', 'notify-before-store', notifyBeforeStoreLock, 0),
  exclusion('mutex/spurious-wakeups', 'correct', realMutex, 0.2),
  exclusion('mutex/spurious-wakeups', 'wait-ignores-spurious-wakeup', wakeMeansMineLock, 0.2),
  owner('correct', realMutex),
  owner('unlock-without-owner-check', unlockWithoutOwnerCheck),
  ownerDeath,
];
