import { strict as assert } from 'node:assert';
import { describe, test } from 'node:test';
import { INJECTED_ANNOTATION, SIDECAR_NAME, TOKEN_SECRET_ANNOTATION } from '../injection-contract.ts';
import { ANNOTATIONS, injectPatch, SIDECAR_ENDPOINT, skipReason, UPSTREAM_ENV, type Container, type PatchOp, type Pod } from './inject.ts';
import { DEFAULT_SIDECAR, parseQuantity, type SidecarSettings } from './settings.ts';

const S: SidecarSettings = { image: 'floodgate/floodgate:test', ...DEFAULT_SIDECAR };
const PROTECTED = ['kube-system', 'kube-public', 'kube-node-lease', 'floodgate-system'];

/** RFC 6902 add/replace, enough to see the pod the API server would store. */
function apply(doc: unknown, ops: PatchOp[]): Pod {
  const out = structuredClone(doc) as Record<string, unknown>;
  for (const op of ops) {
    const parts = op.path.split('/').slice(1).map((p) => p.replaceAll('~1', '/').replaceAll('~0', '~'));
    const last = parts.pop()!;
    let parent: unknown = out;
    for (const p of parts) {
      parent = (parent as Record<string, unknown>)[p];
      assert.ok(parent !== undefined, `${op.path}: parent exists`);
    }
    if (Array.isArray(parent)) {
      if (op.op === 'replace') { assert.ok(Number(last) < parent.length, `${op.path} exists`); parent[Number(last)] = op.value; }
      else if (last === '-') parent.push(op.value);
      else parent.splice(Number(last), 0, op.value);
    } else {
      if (op.op === 'replace') assert.ok(last in (parent as object), `${op.path} exists`);
      (parent as Record<string, unknown>)[last] = op.value;
    }
  }
  return out as Pod;
}

const app = (env?: Container['env'], extra: Partial<Container> = {}): Container => ({ name: 'app', image: 'app:1', command: ['/bin/app'], args: ['--serve'], ...(env ? { env } : {}), ...extra });
const podOf = (containers: Container[], meta: Pod['metadata'] = {}, spec: Partial<NonNullable<Pod['spec']>> = {}): Pod =>
  ({ metadata: { generateName: 'web-', labels: { 'floodgate.io/inject': 'true' }, ...meta }, spec: { containers, ...spec } });
const S3 = [{ name: 'AWS_ENDPOINT_URL_S3', value: 'http://minio.data:9000' }];

function injected(pod: Pod): Pod {
  const r = injectPatch(pod, 'floodgate-injector-abc12', S);
  assert.ok(r.inject, `injected: ${JSON.stringify(r)}`);
  return apply(pod, r.patch);
}
const sidecarOf = (p: Pod) => p.spec!.initContainers!.find((c) => c.name === SIDECAR_NAME)!;
const envOf = (c: Container) => Object.fromEntries((c.env ?? []).map((e) => [e.name, e.value]));

describe('skipReason', () => {
  const cases: [string, Pod, string, RegExp | undefined][] = [
    ['an opted-in pod in an ordinary namespace is injected', podOf([app(S3)]), 'apps', undefined],
    ['kube-system is never injected', podOf([app(S3)]), 'kube-system', /protected/],
    ['the operator\'s own namespace is never injected', podOf([app(S3)]), 'floodgate-system', /protected/],
    ['a pod without the label is left alone', podOf([app(S3)], { labels: {} }), 'apps', /not labelled/],
    ['a label other than "true" is not an opt-in', podOf([app(S3)], { labels: { 'floodgate.io/inject': 'yes' } }), 'apps', /not labelled/],
    ['an injected pod is left alone (idempotent)', podOf([app(S3)], { annotations: { [INJECTED_ANNOTATION]: 'true' } }), 'apps', /already injected/],
    ['a pod that already has the sidecar container is left alone', podOf([app(S3)], {}, { initContainers: [{ name: SIDECAR_NAME }] }), 'apps', /exists/],
  ];
  for (const [name, pod, ns, want] of cases) {
    test(name, () => {
      const r = skipReason(pod, ns, PROTECTED);
      if (want) assert.match(r ?? '', want);
      else assert.equal(r, undefined);
    });
  }
});

describe('injectPatch', () => {
  test('adds a native sidecar first, pointing the app at it, with the original endpoint as upstream', () => {
    const p = injected(podOf([app(S3)], {}, { initContainers: [app(S3, { name: 'migrate' })] }));
    const [first, migrate] = p.spec!.initContainers!;
    assert.equal(first!.name, SIDECAR_NAME);
    assert.equal(first!.restartPolicy, 'Always');
    assert.equal(migrate!.name, 'migrate');
    assert.equal(envOf(migrate!).AWS_ENDPOINT_URL_S3, SIDECAR_ENDPOINT, 'init containers after the sidecar use it too');
    const args = first!.args as string[];
    for (const a of ['injector', '--listen=127.0.0.1:9080', '--upstream=http://minio.data:9000', '--control-listen=0.0.0.0:9101',
      '--token-file=/var/run/floodgate/token/token', '--state-file=/var/run/floodgate/state/injector.json', '--max-cpu-cores=1', `--max-memory=${256 * 1024 ** 2}`, `--max-disk=${1024 ** 3}`]) {
      assert.ok(args.includes(a), `${a} in ${args}`);
    }
    assert.equal(first!.command, undefined, 'the image entrypoint runs the subcommand');
    assert.deepEqual((first!.readinessProbe as { httpGet: unknown }).httpGet, { path: '/_floodgate/metrics', port: 9101 });
    assert.equal(envOf(p.spec!.containers![0]!).AWS_ENDPOINT_URL_S3, SIDECAR_ENDPOINT);
    assert.deepEqual(p.spec!.volumes, [{ name: 'floodgate-injector-token', secret: { secretName: 'floodgate-injector-abc12', defaultMode: 0o444 } },
      { name: 'floodgate-injector-state', emptyDir: { sizeLimit: '1Mi' } }]);
    assert.deepEqual(p.metadata!.annotations, {
      'floodgate.io/injected': 'true', [TOKEN_SECRET_ANNOTATION]: 'floodgate-injector-abc12', 'floodgate.io/injector-control-port': '9101',
      'prometheus.io/scrape': 'true', 'prometheus.io/port': '9101', 'prometheus.io/path': '/_floodgate/metrics',
    });
  });

  test("an app's own prometheus.io scrape annotations are kept, not pointed at the sidecar", () => {
    const own = { 'prometheus.io/scrape': 'true', 'prometheus.io/port': '8080' };
    const p = injected(podOf([app(S3)], { annotations: { ...own } }));
    assert.equal(p.metadata!.annotations!['prometheus.io/port'], '8080');
    assert.equal(p.metadata!.annotations!['prometheus.io/path'], undefined);
  });

  test('never rewrites command, args or image', () => {
    const pod = podOf([app(S3), app(undefined, { name: 'worker', command: ['sh', '-c', 'run'] })]);
    const p = injected(pod);
    for (const [i, c] of p.spec!.containers!.entries()) {
      const before = pod.spec!.containers![i]!;
      assert.deepEqual([c.image, c.command, c.args], [before.image, before.command, before.args]);
    }
  });

  test('AWS_ENDPOINT_URL is rewritten only where the pod sets it; AWS_ENDPOINT_URL_S3 is set in every app container', () => {
    const p = injected(podOf([
      app([{ name: 'AWS_ENDPOINT_URL', value: 'http://s3.local:9000' }, { name: 'OTHER', value: 'x' }]),
      app(undefined, { name: 'sidecar-less' }),
    ]));
    const [a, b] = p.spec!.containers!;
    assert.deepEqual(envOf(a!), { AWS_ENDPOINT_URL: SIDECAR_ENDPOINT, OTHER: 'x', AWS_ENDPOINT_URL_S3: SIDECAR_ENDPOINT });
    assert.deepEqual(envOf(b!), { AWS_ENDPOINT_URL_S3: SIDECAR_ENDPOINT });
    assert.ok((sidecarOf(p).args as string[]).includes('--upstream=http://s3.local:9000'));
  });

  test('an endpoint from a Secret or ConfigMap key is read by the sidecar through the same reference; the annotation wins', () => {
    for (const ref of [{ secretKeyRef: { name: 'photos-access', key: 'endpoint' } }, { configMapKeyRef: { name: 'cfg', key: 'endpoint' } }]) {
      const fromRef = [{ name: 'AWS_ENDPOINT_URL_S3', valueFrom: ref }];
      const p = injected(podOf([app(fromRef)]));
      assert.deepEqual(p.spec!.containers![0]!.env, [{ name: 'AWS_ENDPOINT_URL_S3', value: SIDECAR_ENDPOINT }]);
      assert.deepEqual(sidecarOf(p).env, [{ name: UPSTREAM_ENV, valueFrom: ref }]);
      assert.ok((sidecarOf(p).args as string[]).includes(`--upstream=$(${UPSTREAM_ENV})`));
      const annotated = injected(podOf([app(fromRef)], { annotations: { [ANNOTATIONS.upstream]: 'https://s3.example:443' } }));
      assert.equal(sidecarOf(annotated).env, undefined);
      assert.ok((sidecarOf(annotated).args as string[]).includes('--upstream=https://s3.example:443'));
    }
    const two = podOf([app([{ name: 'AWS_ENDPOINT_URL_S3', valueFrom: { secretKeyRef: { name: 'a', key: 'endpoint' } } }]),
      app([{ name: 'AWS_ENDPOINT_URL_S3', valueFrom: { secretKeyRef: { name: 'b', key: 'endpoint' } } }], { name: 'b' })]);
    assert.match((injectPatch(two, 's', S) as { reason: string }).reason, /different S3 endpoints/);
  });

  test('no endpoint, or two different ones, is not injected (with the reason)', () => {
    assert.match((injectPatch(podOf([app()]), 's', S) as { reason: string }).reason, /no S3 endpoint/);
    const two = podOf([app(S3), app([{ name: 'AWS_ENDPOINT_URL_S3', value: 'http://other:9000' }], { name: 'b' })]);
    assert.match((injectPatch(two, 's', S) as { reason: string }).reason, /different S3 endpoints/);
  });

  test('annotations override limits and caps, never above the ceiling', () => {
    const r = injectPatch(podOf([app(S3)], { annotations: { [ANNOTATIONS.memoryLimit]: '1Gi', [ANNOTATIONS.maxMemory]: '64Gi', [ANNOTATIONS.cpuLimit]: '5m', [ANNOTATIONS.maxCpuCores]: 'lots' } }), 's', S);
    assert.ok(r.inject);
    const side = sidecarOf(apply(podOf([app(S3)], { annotations: {} }), r.patch));
    assert.deepEqual(side.resources, { requests: { cpu: '5m', memory: '64Mi' }, limits: { cpu: '5m', memory: '1Gi' } });
    const args = side.args as string[];
    assert.ok(args.includes(`--max-memory=${3 * 1024 ** 3}`), `clamped to the 3Gi ceiling: ${args}`);
    assert.ok(args.includes('--max-cpu-cores=1'));
    assert.equal(r.warnings.length, 2);
    assert.match(r.warnings.join('\n'), /64Gi is above the ceiling 3Gi/);
    assert.match(r.warnings.join('\n'), /"lots" is not a quantity/);
  });

  test('disk path: a shared emptyDir in every container, or the app\'s own volume at that path', () => {
    const p = injected(podOf([app(S3), app(undefined, { name: 'b', volumeMounts: [{ name: 'cache', mountPath: '/cache' }] })], { annotations: { [ANNOTATIONS.diskPath]: '/scratch' } }, { volumes: [{ name: 'cache', emptyDir: {} }] }));
    assert.deepEqual(p.spec!.volumes!.map((v) => v.name), ['cache', 'floodgate-injector-token', 'floodgate-injector-state', 'floodgate-disk']);
    for (const c of p.spec!.containers!) assert.ok(c.volumeMounts!.some((m) => m.name === 'floodgate-disk' && m.mountPath === '/scratch'), c.name);
    assert.ok((sidecarOf(p).args as string[]).includes('--disk-path=/scratch'));
    const own = injected(podOf([app(S3, { volumeMounts: [{ name: 'data', mountPath: '/data' }] })], { annotations: { [ANNOTATIONS.diskPath]: '/data' } }, { volumes: [{ name: 'data', emptyDir: {} }] }));
    assert.deepEqual(own.spec!.volumes!.map((v) => v.name), ['data', 'floodgate-injector-token', 'floodgate-injector-state']);
    assert.ok(sidecarOf(own).volumeMounts!.some((m) => m.name === 'data' && m.mountPath === '/data'));
    assert.equal(own.spec!.containers![0]!.volumeMounts!.length, 1);
  });

  test('process faults: shared process namespace and the allowed names, by annotation only', () => {
    const p = injected(podOf([app(S3)], { annotations: { [ANNOTATIONS.shareProcessNamespace]: 'true', [ANNOTATIONS.processNames]: 'app, worker' } }));
    assert.equal(p.spec!.shareProcessNamespace, true);
    const args = sidecarOf(p).args as string[];
    assert.ok(args.includes('--process-name=app') && args.includes('--process-name=worker'));
    assert.equal(injected(podOf([app(S3)])).spec!.shareProcessNamespace, undefined);
  });

  test('annotation keys with "/" are escaped in the patch path', () => {
    const r = injectPatch(podOf([app(S3)], { annotations: { keep: 'me' } }), 'tok', S);
    assert.ok(r.inject);
    assert.ok(r.patch.some((o) => o.path === '/metadata/annotations/floodgate.io~1injected'));
    const p = apply(podOf([app(S3)], { annotations: { keep: 'me' } }), r.patch);
    assert.equal(p.metadata!.annotations!.keep, 'me');
    assert.equal(skipReason(p, 'apps', PROTECTED), 'already injected');
  });
});

describe('parseQuantity', () => {
  const cases: [string, number | undefined][] = [['500m', 0.5], ['2', 2], ['1.5', 1.5], ['256Mi', 268435456], ['1G', 1e9], ['64Gi', 64 * 1024 ** 3], ['1k', 1000], ['x', undefined], ['-1', undefined], ['1 Gi', undefined]];
  for (const [q, want] of cases) test(`${q} → ${want}`, () => assert.equal(parseQuantity(q), want));
});
