/**
 * The log cleaner's worker thread: runs one cleaning pass per message (cleaner-pass.ts) and
 * answers with its result, `cancelled`, or the error. The offset map is allocated once and
 * reused while its size stays the same.
 */
import { parentPort } from 'node:worker_threads';
import { CleaningCancelled } from './cleaned-segment.js';
import { CleanerControl } from './cleaner-control.js';
import { type CleanerJob, type CleanerPassResult, runCleanerPass } from './cleaner-pass.js';
import { OffsetMap, offsetMapSlotBytes } from './offset-map.js';

export interface CleanerRequest {
  job: CleanerJob;
  control: SharedArrayBuffer;
}

export type CleanerReply =
  | { result: CleanerPassResult }
  | { cancelled: true }
  | { error: { message: string; code: string | undefined } };

let map: OffsetMap | undefined;

parentPort!.on('message', ({ job, control }: CleanerRequest) => {
  let reply: CleanerReply;
  try {
    if (map === undefined || map.slots !== Math.floor(job.offsetMapBytes / offsetMapSlotBytes)) {
      map = undefined;
      map = new OffsetMap(job.offsetMapBytes);
    }
    reply = { result: runCleanerPass(job, map, new CleanerControl(control)) };
  } catch (error) {
    reply = error instanceof CleaningCancelled
      ? { cancelled: true }
      : { error: { message: error instanceof Error ? error.message : String(error), code: (error as { code?: string }).code } };
  }
  parentPort!.postMessage(reply);
});
