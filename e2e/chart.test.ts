// The Helm chart: lint, what `helm template` renders, refusal of unsafe values, and a real
// install / upgrade / uninstall into a real kube-apiserver, with the operator's RBAC probed by
// `kubectl auth can-i` and by a real ServiceAccount token. No kubelet runs: the operator pod is
// created but never starts, which is all these tests need.
import { strict as assert } from 'node:assert';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { startControlPlane, type ControlPlane } from './lib/controlplane.ts';
import { applyObjects, backendBucketOf, condition, getObject, secretOf, startBackend, startOperator, waitFor } from './lib/operator.ts';
import { IMAGE, IMAGE_REPOSITORY } from '../version.ts';

const ROOT = resolve(import.meta.dirname, '..');
const CHART = join(ROOT, 'charts', 'floodgate');
const NS = 'floodgate-system';
const RELEASE = 'fg';
const SA = `system:serviceaccount:${NS}:fg-floodgate-operator`;

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [k: string]: unknown;
}

function parseManifests(text: string): K8sObject[] {
  return parseAllDocuments(text).map((d) => {
    if (d.errors.length) throw new Error(`invalid YAML from helm template: ${d.errors[0]!.message}`);
    return d.toJS() as K8sObject | null;
  }).filter((o): o is K8sObject => o !== null);
}

function find(objs: K8sObject[], kind: string, name?: string): K8sObject {
  const o = objs.find((x) => x.kind === kind && (name === undefined || x.metadata.name === name));
  assert.ok(o, `${kind} ${name ?? ''} rendered (got ${objs.map((x) => `${x.kind}/${x.metadata.name}`).join(', ')})`);
  return o;
}

type Any = any;

/** The CRDs `make crds` generates, which the chart must carry unchanged. */
function generatedCrds(): string[] {
  const dir = join(ROOT, 'crds');
  return existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort() : [];
}

describe('helm chart', () => {
  let cp: ControlPlane;
  const helm = (args: string[], o?: { allowFail?: boolean }) => cp.helm(args, o);
  const template = async (...set: string[]) =>
    parseManifests((await helm(['template', RELEASE, CHART, '-n', NS, ...set.flatMap((s) => ['--set', s])])).stdout);

  before(async () => { cp = await startControlPlane(); });
  after(() => cp?.stop());

  test('helm lint --strict is clean, with defaults and with several replicas', async () => {
    const r = await helm(['lint', '--strict', CHART]);
    assert.match(r.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
    assert.doesNotMatch(r.stdout, /\[(WARNING|ERROR)\]/);
    await helm(['lint', '--strict', CHART, '--set', 'operator.replicas=3', '--set', 'operator.watchNamespace=a']);
  });

  test('the chart carries exactly the generated CRDs', () => {
    const generated = generatedCrds();
    assert.deepEqual(generated, ['backendbuckets.yaml', 'faultexperiments.yaml', 'virtualbuckets.yaml']);
    const carried = readdirSync(join(CHART, 'crds')).filter((f) => f.endsWith('.yaml')).sort();
    assert.deepEqual(carried, generated);
    for (const f of generated) {
      assert.equal(readFileSync(join(CHART, 'crds', f), 'utf8'), readFileSync(join(ROOT, 'crds', f), 'utf8'), `charts/floodgate/crds/${f} is stale: run make chart`);
    }
  });

  test('helm template renders the operator, its RBAC and metrics Service', async () => {
    const objs = await template();
    const kinds = objs.map((o) => o.kind).sort();
    // Operator, webhook and pre-delete cleanup: a ClusterRole and binding each.
    assert.deepEqual(kinds, ['ClusterRole', 'ClusterRole', 'ClusterRole', 'ClusterRoleBinding', 'ClusterRoleBinding', 'ClusterRoleBinding', 'Deployment', 'Job',
      'MutatingWebhookConfiguration', 'Role', 'Role', 'RoleBinding', 'RoleBinding', 'Service', 'Service', 'ServiceAccount', 'ServiceAccount', 'ValidatingWebhookConfiguration']);
    for (const o of objs) {
      assert.equal(o.metadata.labels?.['app.kubernetes.io/instance'], RELEASE, `${o.kind} labelled`);
      if (!/^Cluster|WebhookConfiguration$/.test(o.kind)) assert.equal(o.metadata.namespace, NS, `${o.kind} in the release namespace`);
    }
    const dep: Any = find(objs, 'Deployment', 'fg-floodgate-operator');
    assert.equal(dep.spec.replicas, 1);
    const pod = dep.spec.template.spec;
    assert.equal(pod.serviceAccountName, 'fg-floodgate-operator');
    const c = pod.containers[0];
    assert.equal(c.image, IMAGE, 'tag defaults to appVersion, the image `make image` builds');
    assert.deepEqual(c.args, ['operator', '--http-listen=0.0.0.0:8080', '--log-level=info', '--workers=4', '--resync=10m', '--probe-timeout=5s',
      `--gateway-image=${IMAGE}`, `--operator-namespace=${NS}`, '--max-pod-share=50', '--injection-deadline=60s',
      '--webhook-listen=0.0.0.0:9443', '--webhook-service=fg-floodgate-operator-webhook', '--webhook-secret=fg-floodgate-operator-webhook-tls',
      '--mutating-webhook-configuration=fg-floodgate-operator', '--validating-webhook-configuration=fg-floodgate-operator',
      `--injector-image=${IMAGE}`, '--injector-pull-policy=IfNotPresent', '--sidecar-cpu-request=10m', '--sidecar-memory-request=64Mi',
      '--sidecar-cpu-limit=1', '--sidecar-memory-limit=384Mi', '--sidecar-max-cpu-cores=1', '--sidecar-max-memory=256Mi', '--sidecar-max-disk=1Gi',
      '--sidecar-ceiling=cpuLimit=4,memoryLimit=4Gi,maxCpuCores=4,maxMemory=3Gi,maxDisk=20Gi',
      '--leader-elect=true', `--leader-election-namespace=${NS}`,
      '--leader-election-id=fg-floodgate-operator', '--lease-duration=15s', '--renew-deadline=10s', '--retry-period=2s']);
    assert.deepEqual(c.env.map((e: Any) => [e.name, e.valueFrom.fieldRef.fieldPath]), [['POD_NAME', 'metadata.name'], ['POD_NAMESPACE', 'metadata.namespace']]);
    assert.equal(c.livenessProbe.httpGet.path, '/healthz');
    assert.equal(c.readinessProbe.httpGet.path, '/readyz');
    assert.equal(c.securityContext.readOnlyRootFilesystem, true);
    assert.deepEqual(c.securityContext.capabilities.drop, ['ALL']);
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.deepEqual(dep.spec.selector.matchLabels, dep.spec.template.metadata.labels);
    const svc: Any = find(objs, 'Service', 'fg-floodgate-operator-metrics');
    assert.deepEqual(svc.spec.selector, dep.spec.selector.matchLabels);
    assert.equal(svc.spec.ports[0].targetPort, 'metrics');
    // The webhooks: Service 443 → the operator's webhook port; caBundle left to the operator.
    const hook: Any = find(objs, 'Service', 'fg-floodgate-operator-webhook');
    assert.deepEqual(hook.spec.selector, dep.spec.selector.matchLabels);
    assert.deepEqual([hook.spec.ports[0].port, hook.spec.ports[0].targetPort], [443, 'webhook']);
    assert.deepEqual(c.ports.find((p: Any) => p.name === 'webhook'), { name: 'webhook', containerPort: 9443, protocol: 'TCP' });
    const mutating: Any = find(objs, 'MutatingWebhookConfiguration', 'fg-floodgate-operator');
    const inject = mutating.webhooks.find((w: Any) => w.name === 'pods.inject.floodgate.io');
    assert.equal(inject.failurePolicy, 'Ignore');
    assert.equal(inject.timeoutSeconds, 5);
    assert.deepEqual(inject.objectSelector, { matchLabels: { 'floodgate.io/inject': 'true' } });
    assert.deepEqual(inject.namespaceSelector, { matchLabels: { 'floodgate.io/injection': 'enabled' },
      matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['kube-system', 'kube-public', 'kube-node-lease', NS] }] });
    const validating: Any = find(objs, 'ValidatingWebhookConfiguration', 'fg-floodgate-operator');
    for (const w of [...mutating.webhooks, ...validating.webhooks]) {
      assert.equal(w.clientConfig.caBundle, undefined, `${w.name}: caBundle is the operator's`);
      assert.deepEqual({ ...w.clientConfig.service, path: undefined }, { name: 'fg-floodgate-operator-webhook', namespace: NS, port: 443, path: undefined });
    }
    assert.equal(validating.webhooks[0].failurePolicy, 'Fail');
    const off = (await template('webhook.enabled=false')).map((o) => o.kind);
    assert.ok(!off.includes('MutatingWebhookConfiguration') && !off.includes('ValidatingWebhookConfiguration'));
  });

  test('values change what is rendered', async () => {
    const objs = await template('operator.replicas=3', 'operator.logLevel=debug', 'image.tag=v9', 'gateway.statusUrlTemplate=http://{service}.{namespace}:{port}/status',
      'leaderElection.enabled=true', 'leaderElection.leaseDurationSeconds=30', 'operator.metricsPort=9090');
    const dep: Any = find(objs, 'Deployment');
    assert.equal(dep.spec.replicas, 3);
    const c = dep.spec.template.spec.containers[0];
    assert.equal(c.image, `${IMAGE_REPOSITORY}:v9`);
    for (const a of ['--log-level=debug', `--gateway-image=${IMAGE_REPOSITORY}:v9`, '--lease-duration=30s', '--http-listen=0.0.0.0:9090',
      '--gateway-status-url-template=http://{service}.{namespace}:{port}/status']) assert.ok(c.args.includes(a), `${a} in ${c.args}`);
    assert.equal(c.ports[0].containerPort, 9090);
    const single: Any = find(await template('leaderElection.enabled=false'), 'Deployment');
    const args: string[] = single.spec.template.spec.containers[0].args;
    assert.ok(args.includes('--leader-elect=false'));
    assert.equal(args.filter((a) => a.startsWith('--lease') || a.startsWith('--leader-election')).length, 0);
  });

  test('watchNamespace binds the role in that namespace only', async () => {
    const objs = await template('operator.watchNamespace=team-a');
    // Only the webhook's binding stays cluster-wide: pods opt in to injection in any namespace.
    assert.deepEqual(objs.filter((o) => o.kind === 'ClusterRoleBinding').map((o) => o.metadata.name), ['fg-floodgate-operator-webhook']);
    const binding: Any = find(objs, 'RoleBinding', 'fg-floodgate-operator');
    assert.equal(binding.metadata.namespace, 'team-a');
    assert.deepEqual(binding.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'fg-floodgate-operator' });
    assert.ok((find(objs, 'Deployment') as Any).spec.template.spec.containers[0].args.includes('--namespace=team-a'));
  });

  test('helm uninstall first runs floodgate operator cleanup (pre-delete hook) with its own, narrow RBAC', async () => {
    const objs = await template();
    const job: Any = find(objs, 'Job', 'fg-floodgate-operator-cleanup');
    assert.equal(job.metadata.annotations['helm.sh/hook'], 'pre-delete');
    const c = job.spec.template.spec.containers[0];
    assert.deepEqual(c.args, ['operator', 'cleanup', '--timeout=2m']);
    assert.equal(c.image, IMAGE);
    assert.equal(job.spec.template.spec.serviceAccountName, 'fg-floodgate-operator-cleanup');
    const role: Any = find(objs, 'ClusterRole', 'fg-floodgate-operator-cleanup');
    assert.deepEqual(role.rules, [{ apiGroups: ['floodgate.dev'], resources: ['backendbuckets', 'virtualbuckets', 'faultexperiments'], verbs: ['list', 'delete', 'patch'] }]);
    for (const kind of ['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding']) {
      assert.equal((find(objs, kind, 'fg-floodgate-operator-cleanup') as Any).metadata.annotations['helm.sh/hook'], 'pre-delete');
    }
    const scoped = await template('operator.watchNamespace=team-a');
    assert.ok((find(scoped, 'Job', 'fg-floodgate-operator-cleanup') as Any).spec.template.spec.containers[0].args.includes('--namespace=team-a'));
    assert.equal(find(scoped, 'RoleBinding', 'fg-floodgate-operator-cleanup').metadata.namespace, 'team-a');
    assert.ok(!(await template('cleanupOnUninstall.enabled=false')).some((o) => o.kind === 'Job'));
  });

  test('unsafe or malformed values are refused with a clear message', async () => {
    const cases: [string[], RegExp][] = [
      [['operator.replicas=2', 'leaderElection.enabled=false'], /replicas > 1 needs leaderElection\.enabled=true/],
      [['operator.logLevel=loud'], /logLevel[\s\S]*(must be one of|value must be one of)/],
      [['operator.replicas=-1'], /replicas[\s\S]*(minimum|greater than or equal)/],
      [['leaderElection.renewDeadlineSeconds=20'], /leaseDurationSeconds must be greater than/],
      [['serviceAccount.create=false'], /serviceAccount\.name is required/],
      [['operator.unknownKey=1'], /additional properties 'unknownKey' not allowed|unknownKey/],
      [['operator.resync=5 parsecs'], /resync[\s\S]*does not match pattern/],
      [['operator.watchNamespace=Team_A'], /watchNamespace[\s\S]*does not match pattern/],
      [['webhook.sidecar.caps.maxMemory=lots'], /maxMemory[\s\S]*does not match pattern/],
      [['webhook.experimentsFailurePolicy=Maybe'], /experimentsFailurePolicy[\s\S]*must be one of/],
      [['webhook.protectedNamespaces={Bad_NS}'], /protectedNamespaces[\s\S]*does not match pattern/],
    ];
    for (const [set, message] of cases) {
      const r = await helm(['template', RELEASE, CHART, ...set.flatMap((s) => ['--set', s])], { allowFail: true });
      assert.notEqual(r.code, 0, `${set} refused`);
      assert.match(r.stderr, message, `${set}: ${r.stderr}`);
    }
  });

  test('the rendered manifests pass server-side validation (kubectl apply --dry-run=server)', async () => {
    await cp.kubectl(['create', 'namespace', NS]);
    const out = (await helm(['template', RELEASE, CHART, '-n', NS])).stdout;
    const r = await cp.kubectl(['apply', '--dry-run=server', '-f', '-'], { input: out });
    assert.match(r.stdout, /deployment\.apps\/fg-floodgate-operator created \(server dry run\)/);
  });

  test('helm install creates the CRDs and the operator objects; RBAC grants exactly what the operator needs', async () => {
    const install = await helm(['install', RELEASE, CHART, '-n', NS, '--create-namespace']);
    assert.match(install.stdout, /STATUS: deployed/);
    const names = (await cp.kubectl(['get', 'deployment,serviceaccount,service,role,rolebinding', '-n', NS, '-o', 'name'])).stdout;
    for (const n of ['deployment.apps/fg-floodgate-operator', 'serviceaccount/fg-floodgate-operator',
      'service/fg-floodgate-operator-metrics', 'role.rbac.authorization.k8s.io/fg-floodgate-operator-leader-election']) {
      assert.ok(names.includes(n), `${n} created`);
    }
    await cp.kubectl(['get', 'clusterrole/fg-floodgate-operator', 'clusterrolebinding/fg-floodgate-operator']);
    await cp.kubectl(['wait', '--for=condition=Established', '--timeout=60s',
      'crd/backendbuckets.floodgate.dev', 'crd/virtualbuckets.floodgate.dev', 'crd/faultexperiments.floodgate.dev']);
    await assertOperatorRbac(cp);
  });

  test('the real operator does its work with nothing but the chart\'s ServiceAccount token', async () => {
    const kubeconfig = await serviceAccountKubeconfig(cp, 'fg-floodgate-operator');
    const backend = await startBackend('rbac-data');
    const op = startOperator(cp, ['--kubeconfig', kubeconfig, '--leader-election-namespace', NS, '--leader-election-id', 'fg-floodgate-operator',
      '--operator-namespace', NS, '--webhook-listen', '127.0.0.1:0', '--webhook-service', 'fg-floodgate-operator-webhook',
      '--webhook-secret', 'fg-floodgate-operator-webhook-tls', '--mutating-webhook-configuration', 'fg-floodgate-operator', '--validating-webhook-configuration', 'fg-floodgate-operator']);
    try {
      // startOperator passes the admin kubeconfig first; the operator's parseArgs keeps the last.
      const argv = op.proc.spawnargs;
      assert.equal(argv[argv.lastIndexOf('--kubeconfig') + 1], kubeconfig);
      const self = await cp.kubectl(['--kubeconfig', kubeconfig, 'auth', 'whoami', '-o', 'jsonpath={.status.userInfo.username}']);
      assert.equal(self.stdout, SA);
      await op.httpUrl;
      await cp.kubectl(['create', 'namespace', 'apps']);
      await applyObjects(cp, [secretOf('apps', 'keys', backend.creds), backendBucketOf('apps', 'store', backend, 'keys'),
        { apiVersion: 'floodgate.dev/v1alpha1', kind: 'VirtualBucket', metadata: { name: 'photos', namespace: 'apps' }, spec: { backends: ['store'] } }]);
      // Lease (leases create/get/update), Secret read by name + probe + status patch + finalizer.
      await waitFor('Lease held', async () => (await getObject(cp, 'lease', NS, 'fg-floodgate-operator'))?.spec?.holderIdentity);
      // The webhook certificate Secret (created in the release namespace) and both caBundles.
      await waitFor('webhook certificate Secret', () => getObject(cp, 'secret', NS, 'fg-floodgate-operator-webhook-tls'));
      for (const kind of ['mutatingwebhookconfiguration', 'validatingwebhookconfiguration']) {
        await waitFor(`${kind} caBundle`, async () => JSON.parse((await cp.kubectl(['get', kind, 'fg-floodgate-operator', '-o', 'json'])).stdout).webhooks.every((w: Any) => w.clientConfig.caBundle));
      }
      await waitFor('store Ready', async () => condition(await getObject(cp, 'backendbucket', 'apps', 'store'), 'Ready')?.status === 'True');
      // The gateway objects, applied server-side, and the access Secret.
      await waitFor('gateway Deployment', () => getObject(cp, 'deployment', 'apps', 'photos-gateway'));
      await waitFor('gateway Service', () => getObject(cp, 'service', 'apps', 'photos-gateway'));
      await waitFor('gateway ConfigMap', () => getObject(cp, 'configmap', 'apps', 'photos-gateway'));
      await waitFor('access Secret in status', async () => (await getObject(cp, 'virtualbucket', 'apps', 'photos'))?.status?.accessSecret);
      const events = (await cp.kubectl(['get', 'events.events.k8s.io', '-n', 'apps', '-o', 'jsonpath={.items[*].reportingController}'])).stdout;
      assert.ok(events.trim().length > 0, 'Events recorded');
      const denied = op.logs.filter((l) => /forbidden|\b403\b/i.test(l));
      assert.deepEqual(denied, [], 'no request of the operator was refused');
    } finally {
      await op.stop();
      await backend.close();
    }
  });

  test('helm upgrade changes the release; helm uninstall removes it but keeps the CRDs', async () => {
    const upgrade = await helm(['upgrade', RELEASE, CHART, '-n', NS, '--set', 'operator.replicas=2', '--set', 'operator.logLevel=debug']);
    assert.match(upgrade.stdout, /REVISION: 2/);
    assert.equal((await cp.kubectl(['get', 'deployment', 'fg-floodgate-operator', '-n', NS, '-o', 'jsonpath={.spec.replicas}'])).stdout, '2');
    const args = (await cp.kubectl(['get', 'deployment', 'fg-floodgate-operator', '-n', NS, '-o', 'jsonpath={.spec.template.spec.containers[0].args}'])).stdout;
    assert.ok(JSON.parse(args).includes('--log-level=debug'), args);
    const history = (await helm(['history', RELEASE, '-n', NS, '-o', 'json'])).stdout;
    assert.deepEqual(JSON.parse(history).map((h: { revision: number; status: string }) => [h.revision, h.status]), [[1, 'superseded'], [2, 'deployed']]);

    // No kubelet and no Job controller here: the pre-delete cleanup Job could never finish.
    // `floodgate operator cleanup` itself is tested in e2e/operator-gateway.test.ts.
    const uninstall = await helm(['uninstall', RELEASE, '-n', NS, '--wait', '--no-hooks']);
    assert.match(uninstall.stdout, /uninstalled/);
    const left = (await cp.kubectl(['get', 'deployment,serviceaccount,service,role,rolebinding', '-n', NS, '-l', `app.kubernetes.io/instance=${RELEASE}`, '-o', 'name'])).stdout;
    assert.equal(left.trim(), '');
    const cluster = await cp.kubectl(['get', 'clusterrole/fg-floodgate-operator'], { allowFail: true });
    assert.match(cluster.stderr, /NotFound/);
    // Helm never deletes CRDs from crds/: users' resources survive an uninstall.
    await cp.kubectl(['get', 'crd/virtualbuckets.floodgate.dev']);
    await cp.kubectl(['get', 'virtualbucket/photos', '-n', 'apps']);
  });
});

/** A kubeconfig like the admin's, but authenticated with a fresh token of the ServiceAccount. */
async function serviceAccountKubeconfig(cp: ControlPlane, sa: string): Promise<string> {
  const token = (await cp.kubectl(['create', 'token', sa, '-n', NS, '--duration=1h'])).stdout.trim();
  const path = join(dirname(cp.kubeconfig), `${sa}.kubeconfig`);
  const admin = readFileSync(cp.kubeconfig, 'utf8');
  assert.match(admin, /^ {4}token: .+$/m);
  writeFileSync(path, admin.replace(/^ {4}token: .+$/m, `    token: ${token}`), { mode: 0o600 });
  return path;
}

/** What the operator's ServiceAccount may and may not do, asked of the real RBAC authorizer. */
async function assertOperatorRbac(cp: ControlPlane): Promise<void> {
  const can = async (...args: string[]) => {
    const r = await cp.kubectl(['auth', 'can-i', ...args, `--as=${SA}`], { allowFail: true });
    const answer = r.stdout.trim();
    assert.ok(answer === 'yes' || answer === 'no', `can-i ${args.join(' ')}: ${r.stderr}`);
    return answer;
  };
  const allowed: string[][] = [
    ['list', 'virtualbuckets.floodgate.dev', '-A'],
    ['watch', 'backendbuckets.floodgate.dev', '-A'],
    ['patch', 'faultexperiments.floodgate.dev', '-n', 'apps'],
    ['patch', 'virtualbuckets.floodgate.dev', '--subresource=status', '-n', 'apps'],
    ['update', 'backendbuckets.floodgate.dev', '--subresource=finalizers', '-n', 'apps'],
    ['watch', 'deployments.apps', '-A'],
    ['create', 'deployments.apps', '-n', 'apps'],
    ['patch', 'services', '-n', 'apps'],
    ['patch', 'configmaps', '-n', 'apps'],
    ['create', 'persistentvolumeclaims', '-n', 'apps'],
    ['patch', 'persistentvolumeclaims', '-n', 'apps'],
    ['get', 'secrets', '-n', 'apps'],
    ['create', 'secrets', '-n', 'apps'],
    ['create', 'events.events.k8s.io', '-n', 'apps'],
    ['list', 'pods', '-A'],
    ['watch', 'pods', '-A'],
    ['get', 'configmaps', '-n', NS],
    ['create', 'leases.coordination.k8s.io', '-n', NS],
    ['update', 'leases.coordination.k8s.io/fg-floodgate-operator', '-n', NS],
    // The webhooks: their two configurations by name, SubjectAccessReviews, namespace labels, the
    // certificate Secret (by name) and token Secrets in any namespace.
    ['get', 'mutatingwebhookconfigurations.admissionregistration.k8s.io/fg-floodgate-operator'],
    ['patch', 'validatingwebhookconfigurations.admissionregistration.k8s.io/fg-floodgate-operator'],
    ['create', 'subjectaccessreviews.authorization.k8s.io'],
    ['get', 'namespaces/apps'],
    ['update', 'secrets/fg-floodgate-operator-webhook-tls', '-n', NS],
    ['create', 'secrets', '-n', 'team-b'],
    ['patch', 'secrets', '-n', 'team-b'],
  ];
  const denied: string[][] = [
    ['list', 'secrets', '-A'],
    ['watch', 'secrets', '-n', 'apps'],
    ['*', 'secrets', '-A'],
    ['delete', 'secrets', '-n', 'apps'],
    ['create', 'virtualbuckets.floodgate.dev', '-n', 'apps'],
    ['delete', 'virtualbuckets.floodgate.dev', '-n', 'apps'],
    ['delete', 'deployments.apps', '-n', 'apps'],
    ['create', 'pods', '-n', 'apps'],
    ['delete', 'pods', '-n', 'apps'],
    ['patch', 'pods', '-n', 'apps'],
    ['create', 'leases.coordination.k8s.io', '-n', 'apps'],
    ['update', 'leases.coordination.k8s.io/someone-else', '-n', NS],
    ['create', 'customresourcedefinitions.apiextensions.k8s.io'],
    ['create', 'clusterrolebindings.rbac.authorization.k8s.io'],
    ['escalate', 'clusterroles.rbac.authorization.k8s.io'],
    ['impersonate', 'serviceaccounts', '-A'],
    ['create', 'serviceaccounts', '--subresource=token', '-n', NS],
    ['delete', 'namespaces/apps'],
    ['patch', 'mutatingwebhookconfigurations.admissionregistration.k8s.io/someone-else'],
    ['create', 'mutatingwebhookconfigurations.admissionregistration.k8s.io'],
    ['delete', 'validatingwebhookconfigurations.admissionregistration.k8s.io/fg-floodgate-operator'],
    ['update', 'secrets', '-n', 'apps'],
    ['list', 'namespaces'],
    ['patch', 'namespaces/apps'],
  ];
  for (const a of allowed) assert.equal(await can(...a), 'yes', `operator may ${a.join(' ')}`);
  for (const d of denied) assert.equal(await can(...d), 'no', `operator may not ${d.join(' ')}`);

  // No wildcard anywhere in what it was granted.
  const list = (await cp.kubectl(['auth', 'can-i', '--list', '-n', 'apps', `--as=${SA}`])).stdout;
  for (const line of list.split('\n').slice(1)) assert.doesNotMatch(line, /\[\*\]|^\*\.?\*?\s/, `no wildcard grant: ${line}`);

  // And with a real token minted for the ServiceAccount (TokenRequest), not only impersonation.
  const token = (await cp.kubectl(['create', 'token', 'fg-floodgate-operator', '-n', NS, '--duration=10m'])).stdout.trim();
  await cp.kubectl(['--token', token, 'get', 'deployments', '-A']);
  const forbidden = await cp.kubectl(['--token', token, 'get', 'secrets', '-A'], { allowFail: true });
  assert.match(forbidden.stderr, /Forbidden[\s\S]*cannot list resource "secrets"/);
}
