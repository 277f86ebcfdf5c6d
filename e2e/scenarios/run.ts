// Runs the cluster scenarios against whatever cluster KUBECONFIG points at — a kind cluster in the
// workflow of e2e/kind/ — with the images already loaded into it:
//   KUBECONFIG=… FLOODGATE_IMAGE=… APP_IMAGE=… MINIO_IMAGE=… node e2e/scenarios/run.ts [name-filter]
// KUBECTL and HELM default to the binaries on PATH. Prints "N passed, N failed"; exit 1 on a failure.
import { join, resolve } from 'node:path';
import { connect } from './kube.ts';
import { SCENARIOS } from './all.ts';

const need = (k: string) => {
  const v = process.env[k];
  if (!v) { process.stderr.write(`run.ts: ${k} is required\n`); process.exit(2); }
  return v;
};
const k = connect({
  kubeconfig: need('KUBECONFIG'),
  kubectlBin: process.env.KUBECTL ?? 'kubectl',
  helmBin: process.env.HELM ?? 'helm',
  images: { floodgate: need('FLOODGATE_IMAGE'), app: need('APP_IMAGE'), minio: need('MINIO_IMAGE') },
  chart: join(resolve(import.meta.dirname, '../..'), 'charts', 'floodgate'),
  log: (l) => process.stdout.write(`  ${l}\n`),
});
const filter = process.argv[2];
let passed = 0;
let failed = 0;
for (const s of SCENARIOS) {
  if (filter && !s.name.includes(filter)) continue;
  const t0 = Date.now();
  try {
    await s.run(k);
    passed++;
    process.stdout.write(`ok   ${s.name} (${((Date.now() - t0) / 1000).toFixed(1)} s)\n`);
  } catch (e) {
    failed++;
    process.stdout.write(`FAIL ${s.name}\n  ${String((e as Error).stack ?? e).split('\n').join('\n  ')}\n`);
    break; // later scenarios build on earlier ones
  }
}
process.stdout.write(`${passed} passed, ${failed} failed\n`);
process.exit(failed ? 1 : 0);
