// An IO worker: owns child processes for the coordinator. The logic is src/io/io-host.ts; this
// file only connects it to the coordinator (comlink for calls, plain messages for events).
import { parentPort, workerData } from 'node:worker_threads';
import { type IoEvent, IoHost } from '../src/io/io-host.ts';
import { Comlink, installErrorTransfer, nodeEndpoint } from '../src/io/wire.ts';
import type { SlotTableHandle } from '../src/table/slot-table.ts';

const port = parentPort;
if (port === null) throw new Error('workers/io-worker must run in a worker thread');
installErrorTransfer();
const host = new IoHost((workerData as { table: SlotTableHandle }).table, (event: IoEvent) =>
  port.postMessage({ ioEvent: event }),
);
Comlink.expose(host, nodeEndpoint(port));
port.postMessage({ ioReady: true });
