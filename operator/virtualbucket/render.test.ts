import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'yaml';
import { BackendBucketResourceSpec } from '../../crds/backendbucket.ts';
import { VirtualBucketResourceSpec, VirtualBucketSpec } from '../../crds/virtualbucket.ts';
import { parseBalancingConfig } from '../../proxy/virtual/index.ts';
import { selectBackends } from '../../proxy/virtual/config.ts';
import type { KubeObject } from '../kube/types.ts';
import { render } from './render.ts';

const vb = (spec: Record<string, unknown>): KubeObject => ({ metadata: { name: 'photos', namespace: 'team-a', uid: 'uid-1', generation: 1 }, spec });
const bb = (name: string, raw: Record<string, unknown>, labels: Record<string, string> = {}) => ({ name, labels, raw, spec: BackendBucketResourceSpec.parse(raw) });
const backends = [
  bb('minio-a', { endpoint: 'http://minio-a:9000', bucket: 'data-a', credentialsSecret: { name: 'minio-a-keys' }, maxSize: '10Gi', weight: 3 }, { tier: 'hot' }),
  bb('minio.b', { endpoint: 'https://s3.example.com', bucket: 'data-b', region: 'eu-west-1', pathStyle: false, credentialsSecret: { name: 'aws', accessKeyIdKey: 'id', secretAccessKeyKey: 'key' } }),
];

function renderFor(raw: Record<string, unknown>) {
  const v = vb(raw);
  return render({ vb: v, spec: VirtualBucketResourceSpec.parse(raw), rawSpec: raw, backends, image: 'floodgate:test', accessSecretName: 'photos-access' });
}

test('the rendered ConfigMap is a balancing config the gateway accepts unchanged', () => {
  const out = renderFor({ backends: ['minio-a', 'minio.b'], strategy: 'weighted', mode: 'redirect', redirectExpiry: '2m' });
  const config = parseBalancingConfig(parse(out.configMap.data!['config.yaml']!), 'rendered');
  assert.deepEqual(config.backends.map((b) => b.name), ['minio-a', 'minio.b']);
  const a = config.backends[0]!;
  assert.equal(a.maxSize, 10 * 2 ** 30);
  assert.equal(a.weight, 3);
  assert.deepEqual(a.credentials, { secretDir: '/etc/floodgate/backends/minio-a' });
  assert.deepEqual(a.labels, { tier: 'hot' });
  const b = config.backends[1]!;
  assert.equal(b.region, 'eu-west-1');
  assert.equal(b.pathStyle, false);
  const v = config.virtualBuckets[0]!;
  assert.equal(v.name, 'photos');
  assert.equal(v.strategy, 'weighted');
  assert.equal(v.mode, 'redirect');
  assert.equal(v.redirectExpiry, 120_000);
  assert.deepEqual(selectBackends(config.backends, v).map((x) => x.name), ['minio-a', 'minio.b']);
});

test('every field of the shared VirtualBucketSpec reaches the gateway config (copies and writeQuorum were dropped once)', () => {
  const raw = { backends: ['minio-a', 'minio.b'], strategy: 'rendezvous', mode: 'redirect', redirectExpiry: '90s', copies: 2, writeQuorum: 1, drain: ['minio.b'] };
  // A field added to the schema fails here until it is rendered (or listed as the resource's own).
  assert.deepEqual(Object.keys(VirtualBucketSpec.shape).filter((k) => !(k in raw) && k !== 'backendSelector'), []);
  const v = parseBalancingConfig(parse(renderFor(raw).configMap.data!['config.yaml']!), 'rendered').virtualBuckets[0]!;
  assert.deepEqual({ backends: v.backends, strategy: v.strategy, mode: v.mode, redirectExpiry: v.redirectExpiry, copies: v.copies, writeQuorum: v.writeQuorum, drain: v.drain },
    { backends: ['minio-a', 'minio.b'], strategy: 'rendezvous', mode: 'redirect', redirectExpiry: 90_000, copies: 2, writeQuorum: 1, drain: ['minio.b'] });
  const dflt = parseBalancingConfig(parse(renderFor({ backends: ['minio-a'] }).configMap.data!['config.yaml']!), 'rendered').virtualBuckets[0]!;
  assert.equal(dflt.copies, 1);
  assert.equal(dflt.writeQuorum, undefined);
});

test('bucketName overrides the resource name; no secret material enters the ConfigMap', () => {
  const out = renderFor({ backendSelector: { matchLabels: { tier: 'hot' } }, bucketName: 'photos-2024' });
  const config = parseBalancingConfig(parse(out.configMap.data!['config.yaml']!));
  assert.equal(config.virtualBuckets[0]!.name, 'photos-2024');
  assert.doesNotMatch(out.configYaml, /accessKeyId:|secretAccessKey:/);
});

test('the Deployment mounts each backend Secret where the config points and takes access keys from the access Secret', () => {
  const out = renderFor({ backends: ['minio-a', 'minio.b'], replicas: 1, port: 9100 });
  const pod = (out.deployment.spec as any).template.spec;
  const c = pod.containers[0];
  assert.equal(c.image, 'floodgate:test');
  assert.deepEqual(c.args, ['gateway', '--config', '/etc/floodgate/config/config.yaml', '--fault-token-file', '/etc/floodgate/faults/token', '--admin-token-file', '/etc/floodgate/admin/token']);
  const secretAt = (dir: string) => pod.volumes.find((v: any) => v.name === c.volumeMounts.find((m: any) => m.mountPath === dir).name).secret;
  assert.deepEqual(secretAt('/etc/floodgate/faults'), { secretName: 'photos-gateway-faults', items: [{ key: 'token', path: 'token' }] });
  assert.deepEqual(secretAt('/etc/floodgate/admin'), { secretName: 'photos-gateway-admin', items: [{ key: 'token', path: 'token' }] });
  const mount = c.volumeMounts.find((m: any) => m.mountPath === '/etc/floodgate/backends/minio.b');
  const vol = pod.volumes.find((v: any) => v.name === mount.name);
  assert.match(mount.name, /^[a-z0-9-]{1,63}$/, 'a DNS label even for a dotted backend name');
  assert.deepEqual(vol.secret, { secretName: 'aws', items: [{ key: 'id', path: 'accessKeyId' }, { key: 'key', path: 'secretAccessKey' }] });
  assert.deepEqual(c.env.map((e: any) => [e.name, e.valueFrom.secretKeyRef.name]), [['FLOODGATE_ACCESS_KEY', 'photos-access'], ['FLOODGATE_SECRET_KEY', 'photos-access']]);
  assert.equal((out.service.spec as any).ports[0].port, 9100);
  for (const o of [out.deployment, out.service, out.configMap, out.claim!]) {
    assert.deepEqual(o.metadata.ownerReferences, [{ apiVersion: 'floodgate.dev/v1alpha1', kind: 'VirtualBucket', name: 'photos', uid: 'uid-1', controller: true, blockOwnerDeletion: true }]);
  }
});

test('gateways are scrapeable: prometheus.io annotations on the pod, a metrics port on the Service (moved when the S3 port is 9090)', () => {
  const out = renderFor({ backends: ['minio-a'] });
  const ann = (out.deployment.spec as any).template.metadata.annotations;
  assert.deepEqual([ann['prometheus.io/scrape'], ann['prometheus.io/port'], ann['prometheus.io/path']], ['true', '9000', '/metrics']);
  assert.deepEqual((out.service.spec as any).ports.find((p: any) => p.name === 'metrics'), { name: 'metrics', port: 9090, targetPort: 9000, protocol: 'TCP' });
  const clash = renderFor({ backends: ['minio-a'], port: 9090 });
  assert.deepEqual((clash.service.spec as any).ports.map((p: any) => p.port), [9090, 9091]);
});

test('the config hash changes with the configuration and only then', () => {
  const a = renderFor({ backends: ['minio-a'] });
  assert.equal(renderFor({ backends: ['minio-a'] }).configHash, a.configHash);
  assert.notEqual(renderFor({ backends: ['minio-a'], strategy: 'rendezvous' }).configHash, a.configHash);
  assert.equal((a.deployment.spec as any).template.metadata.annotations['floodgate.dev/config-hash'], a.configHash);
});

test('the sqlite index lives on a claim the VirtualBucket owns: one pod at a time, a stable replica name', () => {
  const out = renderFor({ backends: ['minio-a'] });
  const spec = out.deployment.spec as any;
  assert.equal(spec.strategy.type, 'Recreate');
  const data = spec.template.spec.volumes.find((v: any) => v.name === 'data');
  assert.deepEqual(data, { name: 'data', persistentVolumeClaim: { claimName: 'photos-gateway-index' } });
  assert.equal(out.claim!.metadata.name, 'photos-gateway-index');
  assert.deepEqual(out.claim!.spec, { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } });
  assert.equal(parse(out.configYaml).replica, 'photos-gateway');
  // Size in the user's notation when Kubernetes reads it, else bytes; the class when given.
  const sized = renderFor({ backends: ['minio-a'], index: { size: '10Gi', storageClassName: 'fast' } });
  assert.deepEqual(sized.claim!.spec, { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '10Gi' } }, storageClassName: 'fast' });
  assert.equal((renderFor({ backends: ['minio-a'], index: { size: '1.5TB' } }).claim!.spec as any).resources.requests.storage, '1500000000000');
});

test('gateway resources: defaults, and each field the spec gives replaces its own', () => {
  const res = (raw: Record<string, unknown>) => (renderFor(raw).deployment.spec as any).template.spec.containers[0].resources;
  assert.deepEqual(res({ backends: ['minio-a'] }), { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '512Mi' } });
  assert.deepEqual(res({ backends: ['minio-a'], resources: { limits: { memory: '2Gi', cpu: 2 } } }),
    { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '2Gi', cpu: 2 } });
  assert.throws(() => VirtualBucketResourceSpec.parse({ backends: ['a'], resources: { requests: { cpu: 'lots' } } }), /expected a quantity like 500m/);
  assert.throws(() => VirtualBucketResourceSpec.parse({ backends: ['a'], resources: { requests: { gpu: 1 } } }), /gpu/);
});

test('a postgres index: the URL Secret mounted and read from a file, replicas roll pod by pod, no claim', () => {
  const raw = { backends: ['minio-a'], replicas: 3, index: { kind: 'postgres', urlSecret: { name: 'pg', key: 'dsn' } } };
  const out = renderFor(raw);
  assert.equal(out.claim, undefined);
  const config = parseBalancingConfig(parse(out.configYaml));
  assert.deepEqual(config.index, { kind: 'postgres', urlFile: '/etc/floodgate/index/url' });
  assert.equal(parse(out.configYaml).replica, undefined, 'each pod names its intents by its hostname');
  assert.doesNotMatch(out.configYaml, /postgres:\/\//);
  const spec = out.deployment.spec as any;
  assert.equal(spec.replicas, 3);
  assert.equal(spec.strategy.type, 'RollingUpdate');
  const pod = spec.template.spec;
  const mount = pod.containers[0].volumeMounts.find((m: any) => m.mountPath === '/etc/floodgate/index');
  assert.deepEqual(pod.volumes.find((v: any) => v.name === mount.name).secret, { secretName: 'pg', items: [{ key: 'dsn', path: 'url' }] });
  assert.deepEqual(pod.volumes.find((v: any) => v.name === 'data'), { name: 'data', emptyDir: {} });
});

test('an origin is rendered with its spec as written and its keys from the mounted Secret, never in the ConfigMap', () => {
  const origin = { endpoint: 'https://s3.legacy.example', bucket: 'old-photos', region: 'eu-west-1', credentialsSecret: { name: 'legacy-keys', accessKeyIdKey: 'id' }, retryInterval: '2m', migrate: { enabled: true, bandwidth: '50Mi', objectsPerSecond: 20 } };
  const out = renderFor({ backends: ['minio-a'], origin });
  assert.doesNotMatch(out.configYaml, /accessKeyId:|secretAccessKey:|legacy-keys/);
  assert.match(out.configYaml, /bandwidth: 50Mi/);
  const v = parseBalancingConfig(parse(out.configMap.data!['config.yaml']!)).virtualBuckets[0]!;
  assert.deepEqual(v.origin, {
    endpoint: 'https://s3.legacy.example', bucket: 'old-photos', region: 'eu-west-1', pathStyle: true, copyConcurrency: 4, retryInterval: 120_000,
    migrate: { enabled: true, bandwidth: 50 * 2 ** 20, objectsPerSecond: 20, concurrency: 4 }, credentials: { secretDir: '/etc/floodgate/origin' },
  });
  const pod = (out.deployment.spec as any).template.spec;
  const mount = pod.containers[0].volumeMounts.find((m: any) => m.mountPath === '/etc/floodgate/origin');
  assert.equal(mount.readOnly, true);
  assert.deepEqual(pod.volumes.find((x: any) => x.name === mount.name).secret, {
    secretName: 'legacy-keys', items: [{ key: 'id', path: 'accessKeyId' }, { key: 'secretAccessKey', path: 'secretAccessKey' }],
  });
  assert.equal(renderFor({ backends: ['minio-a'] }).configYaml.includes('origin'), false);
});

test('gc settings reach the gateway config as written; without them the gateway keeps its defaults (gc only when asked, 1 h minAge)', () => {
  const config = (raw: Record<string, unknown>) => parseBalancingConfig(parse(renderFor(raw).configMap.data!['config.yaml']!), 'rendered');
  const out = renderFor({ backends: ['minio-a'], gc: { interval: '6h', minAge: '2s' } });
  assert.deepEqual(parse(out.configYaml).gc, { interval: '6h', minAge: '2s' });
  assert.deepEqual(config({ backends: ['minio-a'], gc: { interval: '6h', minAge: '2s' } }).gc, { interval: 6 * 3_600_000, minAge: 2_000 });
  assert.deepEqual(config({ backends: ['minio-a'], gc: { minAge: 90_000 } }).gc, { interval: 0, minAge: 90_000 });
  assert.deepEqual(config({ backends: ['minio-a'] }).gc, { interval: 0, minAge: 3_600_000 });
  assert.equal(renderFor({ backends: ['minio-a'] }).configYaml.includes('gc'), false);
});
