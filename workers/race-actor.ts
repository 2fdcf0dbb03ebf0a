/**
 * Actor thread of the race harness: runs one actor of a race test per trial, reused across trials
 * and tests. See src/race/actor-host.ts for the protocol.
 */
import { parentPort } from 'node:worker_threads';
import { ActorHost } from '../src/race/actor-host.ts';

if (parentPort === null) throw new Error('workers/race-actor must run in a worker thread');
new ActorHost(parentPort).start();
