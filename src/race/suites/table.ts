/**
 * Built-in race suite: the slot table's state word (status | generation | flags, changed only by
 * CAS) and its leases, and the planted flag update that does not check the generation.
 *
 * - table/stale-probe      a health probe saw generation g and reports "unready" while the slot
 *                          is restarted (generation g + 1): the result must not land on the new
 *                          process.
 * - table/lease-exclusive  two threads try to lease the same ready slot: exactly one wins.
 */
import { Table } from '../../shm/layout.ts';
import { SlotTable, type SlotTableHandle } from '../../table/slot-table.ts';
import { Flag } from '../../table/state.ts';
import { defineRaceTest, type RaceTest } from '../define.ts';
import { type Variant, variantFields } from '../planted/index.ts';
import { setFlagsIgnoringGeneration } from '../planted/others.ts';

interface State {
  table: SlotTableHandle;
  /** The generation of the process in slot 0 when the trial starts (what the probe checked). */
  generation: number;
}

function readySlot(): State {
  const table = SlotTable.create(1);
  const claimed = table.claim();
  if (claimed === undefined) throw new Error('a fresh table has a free slot');
  table.transition(claimed.slot, 'ready');
  return { table: table.handle, generation: claimed.generation };
}

type MarkUnready = (table: SlotTable, handle: SlotTableHandle, generation: number) => boolean;
const realMark: MarkUnready = (table, _handle, generation) =>
  table.setFlags(0, generation, Flag.unready);
const plantedMark: MarkUnready = (_table, handle, _generation) =>
  setFlagsIgnoringGeneration(
    new Int32Array(handle.buffer),
    Table.slotBase(0) + Table.STATE,
    Flag.unready,
  );

function staleProbe(variant: Variant, mark: MarkUnready): RaceTest<State> {
  return defineRaceTest<State>({
    ...variantFields('table/stale-probe', variant),
    description:
      'a health-probe result for the process of generation g lands while the slot restarts (generation g + 1)',
    setup: readySlot,
    actors: [
      // The probe of generation s.generation finished before the trial; its result lands now.
      (s) => (mark(SlotTable.from(s.table), s.table, s.generation) ? 'applied' : 'stale'),
      (s) => {
        const table = SlotTable.from(s.table);
        const generation = table.state(0).generation;
        table.transition(0, 'closing', { generation });
        table.transition(0, 'exited');
        table.transition(0, 'starting');
        table.transition(0, 'ready');
      },
    ],
    arbiter: (s) => {
      const state = SlotTable.from(s.table).state(0);
      return (state.flags & Flag.unready) !== 0 ? 'flagged' : 'clean';
    },
    outcomes: [
      {
        id: 'applied,clean',
        expect: 'acceptable',
        desc: 'landed on the old process; the restart cleared it',
      },
      { id: 'stale,clean', expect: 'acceptable', desc: 'refused: the slot had moved on' },
      {
        id: /.*flagged/,
        expect: 'forbidden',
        desc: "the old process's probe result landed on the new one",
      },
    ],
  });
}

const leaseExclusive = defineRaceTest<State>({
  name: 'table/lease-exclusive',
  variant: 'correct',
  description: 'two threads tryLease the same ready slot',
  setup: readySlot,
  actors: [0, 1].map(
    () => (s: State) => (SlotTable.from(s.table).tryLease(0) !== 0 ? 'won' : 'lost'),
  ),
  arbiter: (s) => SlotTable.from(s.table).state(0).status,
  outcomes: [
    { id: 'won,lost,leased', expect: 'acceptable' },
    { id: 'lost,won,leased', expect: 'acceptable' },
    { id: /.*/, expect: 'forbidden', desc: 'two holders, or none' },
  ],
});

export default [
  staleProbe('correct', realMark),
  staleProbe('state-cas-without-generation', plantedMark),
  leaseExclusive,
];
