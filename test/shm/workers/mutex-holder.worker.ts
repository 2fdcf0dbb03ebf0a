// Takes the mutex, reports it, then follows orders from the test: stay holding (to be
// terminated with the lock held), try a blocking lock again, or unlock.
import { parentPort, threadId, workerData } from 'node:worker_threads';
import { Mutex, type MutexHandle } from '../../../src/shm/mutex.ts';

const mutex = Mutex.from((workerData as { handle: MutexHandle }).handle);
const port = parentPort!;

port.on('message', (command: string) => {
  try {
    switch (command) {
      case 'lock':
        port.postMessage({ locked: mutex.lock(5_000), threadId });
        break;
      case 'lock-short':
        port.postMessage({ locked: mutex.lock(50), threadId });
        break;
      case 'unlock':
        mutex.unlock();
        port.postMessage({ unlocked: true });
        break;
      case 'owner-died':
        port.postMessage({ ownerDied: mutex.ownerDied });
        break;
      default:
        port.postMessage({ error: `unknown command ${command}` });
    }
  } catch (error) {
    const e = error as { code?: string; message: string };
    port.postMessage({ error: e.message, code: e.code });
  }
});
port.postMessage({ ready: true, threadId });
