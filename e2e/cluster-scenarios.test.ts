// The cluster scenarios (e2e/scenarios/) on the local one-node cluster: the images this repo
// builds are imported into the node's containerd (no registry), then every scenario runs in
// order against it — the same scenarios the kind workflow in e2e/kind/ runs in hosted CI.
import { execFileSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { clusterUnsupported, startCluster, type Cluster } from './lib/cluster/index.ts';
import { connect, type Kube } from './scenarios/kube.ts';
import { SCENARIOS } from './scenarios/all.ts';
import { IMAGE, VERSION } from '../version.ts';

const ROOT = resolve(import.meta.dirname, '..');

/** Runs an image build script and returns the archive path it prints last. */
function build(script: string, ...args: string[]): string {
  const out = execFileSync(join(ROOT, 'tools', 'image', script), args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 24 });
  return out.trim().split('\n').at(-1)!;
}

const unsupported = clusterUnsupported();

describe('cluster scenarios', { skip: unsupported, concurrency: 1 }, () => {
  let cluster: Cluster;
  let k: Kube;
  let failed = false;

  before(async () => {
    const floodgate = build('floodgate.sh');
    const app = build('e2e-app.sh', floodgate);
    const minio = build('minio.sh');
    cluster = await startCluster();
    const t0 = Date.now();
    for (const archive of [floodgate, app, minio]) cluster.importImage(archive);
    const minioRef = execFileSync('tar', ['-xOf', minio, 'manifest.json'], { encoding: 'utf8' });
    k = connect({
      kubeconfig: cluster.kubeconfig,
      kubectlBin: join(cluster.binDir, 'kubectl'),
      helmBin: join(cluster.binDir, 'helm'),
      images: { floodgate: IMAGE, app: `floodgate.local/e2e-app:${VERSION}`, minio: JSON.parse(minioRef)[0].RepoTags[0] },
      chart: join(ROOT, 'charts', 'floodgate'),
      log: (l) => process.stdout.write(`# ${l}\n`),
    });
    k.env.log(`node Ready ${(cluster.times.nodeReadyMs / 1000).toFixed(1)} s, CoreDNS Ready ${(cluster.times.dnsReadyMs / 1000).toFixed(1)} s, images imported in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  });

  after(async () => {
    if (!cluster) return;
    if (failed) {
      // What a person debugging the failure looks at first, in the test output.
      for (const args of [['get', 'pods', '-A', '-o', 'wide'], ['get', 'virtualbuckets,backendbuckets,faultexperiments', '-A'],
        ['logs', '-n', 'floodgate-system', 'deployment/floodgate-operator', '--tail=80']]) {
        const r = await cluster.kubectl(args, { allowFail: true });
        process.stdout.write(`# kubectl ${args.join(' ')}\n${(r.stdout + r.stderr).split('\n').map((l) => `#   ${l}`).join('\n')}\n`);
      }
    }
    const { teardownMs } = await cluster.stop();
    process.stdout.write(`# teardown ${(teardownMs / 1000).toFixed(1)} s\n`);
  });

  for (const s of SCENARIOS) {
    test(s.name, async (t) => {
      if (failed) return t.skip('an earlier scenario failed (each builds on the one before)');
      try {
        await s.run(k);
      } catch (e) {
        failed = true;
        throw e;
      }
    });
  }
});
