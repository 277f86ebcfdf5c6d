// The operator's admission webhooks against a real kube-apiserver: the chart's own
// Mutating/ValidatingWebhookConfigurations, with clientConfig.service rewritten to a
// clientConfig.url on 127.0.0.1 (as envtest does — nothing here dials a Service IP), and the
// caBundle the operator itself writes. Pods are created but never run (no kubelet); the
// controller manager runs, so the garbage collector and the ReplicaSet controller are real.
import { strict as assert } from 'node:assert';
import { X509Certificate } from 'node:crypto';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { startControlPlane, type ControlPlane } from './lib/controlplane.ts';
import { getObject, startOperator, waitFor, type OperatorProcess } from './lib/operator.ts';
import { freePort } from './lib/ports.ts';

type Any = any;
const ROOT = resolve(import.meta.dirname, '..');
const NS = 'floodgate-system';
const NAME = 'fg-floodgate-operator';
const SIDECAR_URL = 'http://127.0.0.1:9080';

const podOf = (name: string, labels: Record<string, string>, env: { name: string; value: string }[] = [{ name: 'AWS_ENDPOINT_URL_S3', value: 'http://minio.data:9000' }]) => ({
  apiVersion: 'v1', kind: 'Pod', metadata: { name, labels },
  spec: { containers: [{ name: 'app', image: 'app:1', command: ['/bin/app'], args: ['--serve'], env }] },
});
const INJECT = { 'floodgate.io/inject': 'true' };

const experiment = (name: string, faults: unknown[], pods: unknown = { selector: { matchLabels: { app: 'web' } }, mode: 'one' }) => ({
  apiVersion: 'floodgate.dev/v1alpha1', kind: 'FaultExperiment', metadata: { name },
  spec: { target: { pods }, faults, duration: '20s' },
});
const slowDown = { kind: 'error', code: 'SlowDown', status: 503, match: { operations: ['GetObject'] }, trigger: { probability: 0.5 } };

describe('admission webhooks', () => {
  let cp: ControlPlane;
  let op: OperatorProcess | undefined;
  let port: number;
  const kubectl = (args: string[], o?: { input?: string; allowFail?: boolean }) => cp.kubectl(args, o);
  const create = async (ns: string, obj: object, as?: string) =>
    kubectl(['create', '-n', ns, '-o', 'json', '-f', '-', ...(as ? [`--as=${as}`] : [])], { input: JSON.stringify(obj), allowFail: true });
  const createPod = async (ns: string, obj: object) => {
    const r = await create(ns, obj);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout);
  };

  before(async () => {
    cp = await startControlPlane({ controllers: true });
    port = await freePort();
    await kubectl(['apply', '--server-side', '-f', join(ROOT, 'crds', 'faultexperiments.yaml')]);
    await kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd/faultexperiments.floodgate.dev']);
    for (const ns of [NS, 'apps', 'plain', 'payments']) await kubectl(['create', 'namespace', ns]);
    // The ServiceAccount admission plugin refuses pods until the controller made `default`.
    for (const ns of ['apps', 'plain', 'payments', 'kube-system']) {
      await waitFor(`ServiceAccount default in ${ns}`, () => getObject(cp, 'serviceaccount', ns, 'default'));
    }
    await kubectl(['label', 'namespace', 'apps', 'floodgate.io/injection=enabled']);
    // Opted in by label, still never injected: protected by the selector and by the code.
    await kubectl(['label', 'namespace', 'kube-system', 'floodgate.io/injection=enabled']);
    await kubectl(['label', 'namespace', 'payments', 'floodgate.io/injection=enabled']);

    const rendered = (await cp.helm(['template', 'fg', join(ROOT, 'charts', 'floodgate'), '-n', NS, '--show-only', 'templates/webhook.yaml', '--set', 'webhook.protectedNamespaces={payments}'])).stdout;
    const objs = parseAllDocuments(rendered).map((d) => d.toJS() as Any).filter((o) => /WebhookConfiguration$/.test(o?.kind ?? ''));
    assert.deepEqual(objs.map((o) => o.kind).sort(), ['MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration']);
    for (const o of objs) {
      for (const w of o.webhooks) {
        assert.equal(w.clientConfig.caBundle, undefined, 'the chart leaves caBundle to the operator');
        w.clientConfig = { url: `https://127.0.0.1:${port}${w.clientConfig.service.path}` };
      }
    }
    await kubectl(['create', '-f', '-'], { input: objs.map((o) => JSON.stringify(o)).join('\n') });

    op = startOperator(cp, ['--leader-elect=false', '--operator-namespace', NS, '--webhook-listen', `127.0.0.1:${port}`, '--webhook-host', '127.0.0.1',
      '--webhook-service', `${NAME}-webhook`, '--webhook-secret', `${NAME}-webhook-tls`,
      '--mutating-webhook-configuration', NAME, '--validating-webhook-configuration', NAME, '--protected-namespaces', 'payments',
      '--max-pod-share', '50', '--injector-image', 'floodgate/floodgate:e2e', '--webhook-check-interval', '2s']);
    await op.httpUrl;
  });

  after(async () => {
    await op?.stop();
    await cp?.stop();
  });

  test('the operator issues its CA, keeps it in a Secret and writes it into both caBundles', async () => {
    const secret = await waitFor('certificate Secret', () => getObject(cp, 'secret', NS, `${NAME}-webhook-tls`));
    const ca = Buffer.from(secret.data['ca.crt'], 'base64').toString();
    const serving = new X509Certificate(Buffer.from(secret.data['tls.crt'], 'base64'));
    assert.ok(serving.checkIssued(new X509Certificate(ca)));
    assert.equal(serving.checkIP('127.0.0.1'), '127.0.0.1');
    assert.equal(serving.checkHost(`${NAME}-webhook.${NS}.svc`), `${NAME}-webhook.${NS}.svc`);
    for (const kind of ['mutatingwebhookconfiguration', 'validatingwebhookconfiguration']) {
      await waitFor(`${kind} caBundle`, async () => {
        const cfg = JSON.parse((await kubectl(['get', kind, NAME, '-o', 'json'])).stdout);
        return cfg.webhooks.every((w: Any) => w.clientConfig.caBundle === Buffer.from(ca).toString('base64'));
      });
    }
    // The API server's view of the configurations lags our GET a little: wait until it calls us.
    await waitFor('the API server calls the pod webhook', async () => {
      const r = await kubectl(['create', '--dry-run=server', '-n', 'apps', '-o', 'json', '-f', '-'], { input: JSON.stringify(podOf('probe', INJECT)) });
      return JSON.parse(r.stdout).spec.initContainers?.[0]?.name === 'floodgate-injector';
    });
  });

  test('an opted-in pod in an opted-in namespace comes back with the native sidecar and its own token', async () => {
    const pod = await createPod('apps', podOf('web-1', { ...INJECT, app: 'web' }));
    const side = pod.spec.initContainers[0];
    assert.equal(side.name, 'floodgate-injector');
    assert.equal(side.restartPolicy, 'Always');
    assert.equal(side.image, 'floodgate/floodgate:e2e');
    assert.ok(side.args.includes('--upstream=http://minio.data:9000'), side.args);
    assert.ok(side.args.includes('--control-listen=0.0.0.0:9101'));
    assert.equal(side.readinessProbe.httpGet.port, 9101);
    const app = pod.spec.containers[0];
    assert.deepEqual(app.env, [{ name: 'AWS_ENDPOINT_URL_S3', value: SIDECAR_URL }]);
    assert.deepEqual([app.command, app.args], [['/bin/app'], ['--serve']], 'command and args untouched');
    const a = pod.metadata.annotations;
    assert.equal(a['floodgate.io/injected'], 'true');
    assert.equal(a['floodgate.io/injector-control-port'], '9101');
    const secretName = a['floodgate.io/injector-token-secret'];
    assert.match(secretName, /^floodgate-injector-/);
    assert.equal(pod.spec.volumes.find((v: Any) => v.name === 'floodgate-injector-token').secret.secretName, secretName);
    const secret = await getObject(cp, 'secret', 'apps', secretName);
    assert.equal(secret.metadata.labels['floodgate.io/injector-token'], 'true');
    assert.ok(Buffer.from(secret.data.token, 'base64').length >= 32);
    // Owned by its pod once the pod exists, so the garbage collector removes it with the pod.
    await waitFor('token Secret owned by the pod', async () => {
      const s = await getObject(cp, 'secret', 'apps', secretName);
      return s.metadata.ownerReferences?.some((r: Any) => r.kind === 'Pod' && r.uid === pod.metadata.uid);
    });

    const other = await createPod('apps', podOf('web-2', { ...INJECT, app: 'web' }));
    assert.notEqual(other.metadata.annotations['floodgate.io/injector-token-secret'], secretName, 'a token per pod, never shared');
  });

  test('pods that did not opt in, or live in a protected namespace, are untouched', async () => {
    for (const [ns, pod] of [['apps', podOf('no-label', { app: 'web' })], ['plain', podOf('plain-ns', INJECT)], ['kube-system', podOf('system', INJECT)], ['payments', podOf('pay', INJECT)]] as const) {
      const p = await createPod(ns, pod);
      assert.equal(p.spec.initContainers, undefined, `${ns}/${pod.metadata.name} not injected`);
      assert.deepEqual(p.spec.containers[0].env, pod.spec.containers[0].env);
      assert.equal(p.metadata.annotations?.['floodgate.io/injected'], undefined);
    }
    // A pod with nothing to put the sidecar in front of is admitted unchanged, with the reason as a warning.
    const r = await create('apps', podOf('no-endpoint', INJECT, [{ name: 'X', value: '1' }]));
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).spec.initContainers, undefined);
    assert.match(r.stderr, /sidecar not injected: no S3 endpoint/);
  });

  test('a server-side dry run shows the injection and creates no token Secret', async () => {
    const before = (await kubectl(['get', 'secrets', '-n', 'apps', '-l', 'floodgate.io/injector-token=true', '-o', 'name'])).stdout.trim().split('\n').length;
    const r = await kubectl(['create', '--dry-run=server', '-n', 'apps', '-o', 'json', '-f', '-'], { input: JSON.stringify(podOf('dry', INJECT)) });
    assert.equal(JSON.parse(r.stdout).spec.initContainers[0].name, 'floodgate-injector');
    const after = (await kubectl(['get', 'secrets', '-n', 'apps', '-l', 'floodgate.io/injector-token=true', '-o', 'name'])).stdout.trim().split('\n').length;
    assert.equal(after, before);
  });

  test('FaultExperiments are refused with a clear message', async () => {
    // apps holds web-1, web-2 (app=web) and no-label (app=web) + no-endpoint: 4 pods, 3 of them app=web.
    const cases: [string, string, object, RegExp][] = [
      ['protected namespace', 'kube-system', experiment('sys', [{ kind: 'serviceDown', mode: 503, match: {} }], { selector: {}, mode: 'all' }), /namespace "kube-system" is protected/],
      ['configured protected namespace', 'payments', experiment('pay', [slowDown]), /namespace "payments" is protected/],
      ['over the pod share', 'apps', experiment('many', [slowDown], { selector: { matchLabels: { app: 'web' } }, mode: 'all' }), /selects 3 of the 4 pods in namespace "apps" \(75 %\); one experiment may hit at most 50 %/],
      ['over a resource cap', 'apps', experiment('mem', [{ kind: 'memory', bytes: '64Gi' }]), /spec\.faults\[0\]\.bytes: 64Gi is over the cap of 3Gi for memory faults/],
      ['a malformed fault', 'apps', experiment('bad', [{ kind: 'truncate', afterBytes: 10, fraction: 0.5, match: {} }]), /spec\.faults\[0\]\.afterBytes: give exactly one of afterBytes or fraction/],
    ];
    for (const [what, ns, obj, message] of cases) {
      const r = await create(ns, obj);
      assert.notEqual(r.code, 0, `${what}: refused`);
      assert.match(r.stderr, message, `${what}: ${r.stderr}`);
    }
    const fine = await create('apps', experiment('ok', [slowDown]));
    assert.equal(fine.code, 0, fine.stderr);
    const stored = JSON.parse(fine.stdout);
    assert.equal(stored.metadata.annotations['floodgate.io/created-by'], 'floodgate-admin');
    assert.equal(stored.metadata.annotations['floodgate.io/creator-can-delete-pods'], 'true');
  });

  test('a creator who could not delete the targeted pods is refused; one who could is recorded', async () => {
    const role = (name: string, rules: object[]) => ({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name, namespace: 'apps' }, rules });
    const binding = (name: string, user: string) => ({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name, namespace: 'apps' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name }, subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: user }] });
    const experimenter = [{ apiGroups: ['floodgate.dev'], resources: ['faultexperiments'], verbs: ['create', 'get', 'update', 'patch'] }];
    await kubectl(['apply', '-f', '-'], { input: [role('experimenter', experimenter), binding('experimenter', 'alice'),
      role('owner', [...experimenter, { apiGroups: [''], resources: ['pods'], verbs: ['delete'] }]), binding('owner', 'carol')].map((o) => JSON.stringify(o)).join('\n') });

    const denied = await create('apps', experiment('alice-exp', [slowDown]), 'alice');
    assert.notEqual(denied.code, 0);
    assert.match(denied.stderr, /user "alice" may not delete pods in namespace "apps": an experiment may only target what its creator could delete/);

    const allowed = await create('apps', experiment('carol-exp', [slowDown]), 'carol');
    assert.equal(allowed.code, 0, allowed.stderr);
    const a = JSON.parse(allowed.stdout).metadata.annotations;
    assert.equal(a['floodgate.io/created-by'], 'carol');
    // The record cannot be rewritten by a later update.
    await kubectl(['annotate', '--overwrite', 'faultexperiment', 'carol-exp', '-n', 'apps', 'floodgate.io/created-by=mallory', '--as=carol']);
    assert.equal((await getObject(cp, 'faultexperiment', 'apps', 'carol-exp')).metadata.annotations['floodgate.io/created-by'], 'carol');
  });

  test('a blanked caBundle is written again; a lost certificate Secret is reissued and served without a restart', async () => {
    const bundle = async () => JSON.parse((await kubectl(['get', 'mutatingwebhookconfiguration', NAME, '-o', 'json'])).stdout).webhooks[0].clientConfig.caBundle as string | undefined;
    const before = await bundle();
    await kubectl(['patch', 'mutatingwebhookconfiguration', NAME, '--type=json', '-p', JSON.stringify([{ op: 'remove', path: '/webhooks/0/clientConfig/caBundle' }])]);
    await waitFor('caBundle written again', async () => (await bundle()) === before);

    await kubectl(['delete', 'secret', `${NAME}-webhook-tls`, '-n', NS]);
    const secret = await waitFor('certificate Secret reissued', () => getObject(cp, 'secret', NS, `${NAME}-webhook-tls`));
    assert.notEqual(secret.data['ca.crt'], before, 'a new CA');
    await waitFor('new CA in the caBundle', async () => (await bundle()) === secret.data['ca.crt']);
    await waitFor('the API server trusts the new serving certificate', async () => {
      const r = await kubectl(['create', '--dry-run=server', '-n', 'apps', '-o', 'json', '-f', '-'], { input: JSON.stringify(podOf('probe', INJECT)) });
      return JSON.parse(r.stdout).spec.initContainers?.[0]?.name === 'floodgate-injector';
    });
    assert.equal(op!.proc.exitCode, null, 'same operator process');
  });

  test('token Secrets go away with their pods (garbage collector), also for a ReplicaSet\'s pods', async () => {
    const pod = await getObject(cp, 'pod', 'apps', 'web-1');
    const secret = pod.metadata.annotations['floodgate.io/injector-token-secret'];
    await kubectl(['delete', 'pod', 'web-1', '-n', 'apps', '--wait=true']);
    await waitFor(`Secret ${secret} collected`, async () => (await getObject(cp, 'secret', 'apps', secret)) === undefined);

    const template = podOf('ignored', { ...INJECT, app: 'batch' });
    const rs = { apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata: { name: 'batch' },
      spec: { replicas: 1, selector: { matchLabels: { app: 'batch' } }, template: { metadata: { labels: template.metadata.labels }, spec: template.spec } } };
    await kubectl(['create', '-n', 'apps', '-f', '-'], { input: JSON.stringify(rs) });
    const rsPod = await waitFor('ReplicaSet pod injected', async () => {
      const list = JSON.parse((await kubectl(['get', 'pods', '-n', 'apps', '-l', 'app=batch', '-o', 'json'])).stdout).items as Any[];
      return list.find((p) => p.metadata.annotations?.['floodgate.io/injected'] === 'true');
    });
    const rsSecret = rsPod.metadata.annotations['floodgate.io/injector-token-secret'];
    await waitFor('owned by the pod', async () => (await getObject(cp, 'secret', 'apps', rsSecret))?.metadata.ownerReferences?.[0]?.uid === rsPod.metadata.uid);
    await kubectl(['delete', 'replicaset', 'batch', '-n', 'apps', '--cascade=foreground', '--wait=true']);
    await waitFor(`Secret ${rsSecret} collected with the ReplicaSet's pod`, async () => (await getObject(cp, 'secret', 'apps', rsSecret)) === undefined);
  });

  test('with the operator down, pods are still created (unchanged); experiments are refused', async () => {
    await op!.stop();
    op = undefined;
    const p = await createPod('apps', podOf('while-down', INJECT));
    assert.equal(p.spec.initContainers, undefined);
    assert.deepEqual(p.spec.containers[0].env, [{ name: 'AWS_ENDPOINT_URL_S3', value: 'http://minio.data:9000' }]);
    const r = await create('apps', experiment('while-down', [slowDown]));
    assert.notEqual(r.code, 0, 'failurePolicy Fail on experiments');
    assert.match(r.stderr, /failed calling webhook/);
  });
});
