// Preloaded into a merger by the fault suite (node --import): SIGKILLs the process once it has written its
// VDET_CRASH_AFTER_CHUNKS-th chunk's results to MongoDB, before the offset commit (src/merger/app.ts' channel).
import diagnostics from 'node:diagnostics_channel';
import { writeSync } from 'node:fs';

const limit = Number(process.env.VDET_CRASH_AFTER_CHUNKS ?? '1');
let written = 0;
diagnostics.subscribe('vdet:merger:chunk-written', ({ jobId, chunk }) => {
  if (++written < limit) return;
  writeSync(2, `crash-after-write: chunk ${chunk} of ${jobId} written, dying before the commit\n`);
  process.kill(process.pid, 'SIGKILL');
});
