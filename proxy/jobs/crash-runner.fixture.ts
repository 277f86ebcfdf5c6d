// A job runner in a child process for runner.test.ts: opens the sqlite index at argv[2], runs
// jobs with a short lease, prints "ran <id>" for each job it finishes and "hold <id>" for one it
// starts and never finishes (the test kills it with SIGKILL meanwhile); argv[4]: the lease (ms).
import { openSqliteIndex } from '../placement/sqlite.ts';
import { createJobRunner, everyKind, type JobHandler } from './runner.ts';

const index = openSqliteIndex(process.argv[2]!);
const hold = Number(process.argv[3]);
const handler: JobHandler = async (job) => {
  if (job.id === hold) {
    process.stdout.write(`hold ${job.id}\n`);
    await new Promise(() => {});
  }
  process.stdout.write(`ran ${job.id}\n`);
  return { outcome: 'done' };
};
createJobRunner(index.jobs, everyKind(handler), {
  replica: 'child', leaseMs: Number(process.argv[4] ?? 400), concurrency: 1, jobsPerSecond: 0, bytesPerSecond: 0, pollMs: 50,
}).start();
