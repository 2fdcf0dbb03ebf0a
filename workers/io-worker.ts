// An IO worker: owns child processes for the coordinator. The logic is src/io/io-host.ts; this
// file only connects it: the data plane's two rings come in workerData, the rare control calls
// (spawn, stop, pids) arrive through comlink.
import { parentPort, workerData } from 'node:worker_threads';
import { type DataPlaneHandles, IoHost } from '../src/io/io-host.ts';
import { Comlink, installErrorTransfer, nodeEndpoint } from '../src/io/wire.ts';
import type { SlotTableHandle } from '../src/table/slot-table.ts';

const port = parentPort;
if (port === null) throw new Error('workers/io-worker must run in a worker thread');
installErrorTransfer();
const { table, rings } = workerData as { table: SlotTableHandle; rings: DataPlaneHandles };
const host = new IoHost(table, rings);
Comlink.expose(host, nodeEndpoint(port));
port.postMessage({ ioReady: true });
