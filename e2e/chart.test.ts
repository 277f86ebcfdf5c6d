// The Helm chart: lint, what `helm template` renders, refusal of unsafe values, and a real
// install / upgrade / uninstall into a real kube-apiserver, with the operator's RBAC probed by
// `kubectl auth can-i` and by a real ServiceAccount token. No kubelet runs: the operator pod is
// created but never starts, which is all these tests need.
import { strict as assert } from 'node:assert';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { startControlPlane, type ControlPlane } from './lib/controlplane.ts';

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
    await helm(['lint', '--strict', CHART, '--set', 'operator.replicas=3', '--set', 'operator.watchNamespaces={a,b}']);
  });

  test('the chart carries exactly the generated CRDs', (t) => {
    const generated = generatedCrds();
    if (!generated.length) return t.skip('crds/*.yaml not generated yet (make crds)');
    const carried = readdirSync(join(CHART, 'crds')).filter((f) => f.endsWith('.yaml')).sort();
    assert.deepEqual(carried, generated);
    for (const f of generated) {
      assert.equal(readFileSync(join(CHART, 'crds', f), 'utf8'), readFileSync(join(ROOT, 'crds', f), 'utf8'), `charts/floodgate/crds/${f} is stale: run make chart`);
    }
  });

  test('helm template renders the operator, its RBAC and metrics Service', async () => {
    const objs = await template();
    const kinds = objs.map((o) => o.kind).sort();
    assert.deepEqual(kinds, ['ClusterRole', 'ClusterRoleBinding', 'ConfigMap', 'Deployment', 'Role', 'RoleBinding', 'Service', 'ServiceAccount']);
    for (const o of objs) {
      assert.equal(o.metadata.labels?.['app.kubernetes.io/instance'], RELEASE, `${o.kind} labelled`);
      if (!o.kind.startsWith('Cluster')) assert.equal(o.metadata.namespace, NS, `${o.kind} in the release namespace`);
    }
    const dep: Any = find(objs, 'Deployment', 'fg-floodgate-operator');
    assert.equal(dep.spec.replicas, 1);
    const pod = dep.spec.template.spec;
    assert.equal(pod.serviceAccountName, 'fg-floodgate-operator');
    const c = pod.containers[0];
    assert.equal(c.image, 'floodgate/floodgate:0.1.0', 'tag defaults to appVersion');
    assert.deepEqual(c.args, ['operator', '--config', '/etc/floodgate/operator.yaml']);
    assert.equal(c.securityContext.readOnlyRootFilesystem, true);
    assert.deepEqual(c.securityContext.capabilities.drop, ['ALL']);
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.deepEqual(dep.spec.selector.matchLabels, dep.spec.template.metadata.labels);
    const svc: Any = find(objs, 'Service');
    assert.deepEqual(svc.spec.selector, dep.spec.selector.matchLabels);
    assert.equal(svc.spec.ports[0].targetPort, 'metrics');

    const cm: Any = find(objs, 'ConfigMap');
    const config = parseAllDocuments(cm.data['operator.yaml'])[0]!.toJS();
    assert.equal(config.logLevel, 'info');
    assert.deepEqual(config.leaderElection, { enabled: true, leaseName: 'fg-floodgate-operator', leaseNamespace: NS,
      leaseDurationSeconds: 15, renewDeadlineSeconds: 10, retryPeriodSeconds: 2 });
    assert.equal(config.gateway.image, 'floodgate/floodgate:0.1.0');
  });

  test('values change what is rendered; a config change rolls the pods', async () => {
    const base: Any = find(await template(), 'Deployment');
    const objs = await template('operator.replicas=3', 'operator.logLevel=debug', 'image.tag=v9', 'gateway.replicas=2');
    const dep: Any = find(objs, 'Deployment');
    assert.equal(dep.spec.replicas, 3);
    assert.equal(dep.spec.template.spec.containers[0].image, 'floodgate/floodgate:v9');
    assert.notEqual(dep.spec.template.metadata.annotations['checksum/config'], base.spec.template.metadata.annotations['checksum/config']);
    const config = parseAllDocuments((find(objs, 'ConfigMap') as Any).data['operator.yaml'])[0]!.toJS();
    assert.equal(config.logLevel, 'debug');
    assert.equal(config.gateway.replicas, 2);
    assert.equal(config.gateway.image, 'floodgate/floodgate:v9');
  });

  test('watchNamespaces binds the role per namespace instead of cluster-wide', async () => {
    const objs = await template('operator.watchNamespaces={team-a,team-b}');
    assert.equal(objs.filter((o) => o.kind === 'ClusterRoleBinding').length, 0);
    const bindings = objs.filter((o) => o.kind === 'RoleBinding' && o.metadata.name === 'fg-floodgate-operator');
    assert.deepEqual(bindings.map((b) => b.metadata.namespace), ['team-a', 'team-b']);
    for (const b of bindings as Any[]) assert.deepEqual(b.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'fg-floodgate-operator' });
  });

  test('unsafe or malformed values are refused with a clear message', async () => {
    const cases: [string[], RegExp][] = [
      [['operator.replicas=2', 'leaderElection.enabled=false'], /replicas > 1 needs leaderElection\.enabled=true/],
      [['operator.logLevel=loud'], /logLevel[\s\S]*(must be one of|value must be one of)/],
      [['operator.replicas=-1'], /replicas[\s\S]*(minimum|greater than or equal)/],
      [['leaderElection.renewDeadlineSeconds=20'], /leaseDurationSeconds must be greater than/],
      [['serviceAccount.create=false'], /serviceAccount\.name is required/],
      [['operator.unknownKey=1'], /additional properties 'unknownKey' not allowed|unknownKey/],
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

  test('install, RBAC, upgrade and uninstall against the real apiserver', async () => {
    const install = await helm(['install', RELEASE, CHART, '-n', NS, '--create-namespace']);
    assert.match(install.stdout, /STATUS: deployed/);
    const names = (await cp.kubectl(['get', 'deployment,serviceaccount,configmap,service,role,rolebinding', '-n', NS, '-o', 'name'])).stdout;
    for (const n of ['deployment.apps/fg-floodgate-operator', 'serviceaccount/fg-floodgate-operator', 'configmap/fg-floodgate-operator',
      'service/fg-floodgate-operator-metrics', 'role.rbac.authorization.k8s.io/fg-floodgate-operator-leader-election']) {
      assert.ok(names.includes(n), `${n} created`);
    }
    await cp.kubectl(['get', 'clusterrole/fg-floodgate-operator', 'clusterrolebinding/fg-floodgate-operator']);
    if (generatedCrds().length) {
      await cp.kubectl(['wait', '--for=condition=Established', '--timeout=60s',
        'crd/backendbuckets.floodgate.dev', 'crd/virtualbuckets.floodgate.dev', 'crd/faultexperiments.floodgate.dev']);
    }

    await assertOperatorRbac(cp);

    const upgrade = await helm(['upgrade', RELEASE, CHART, '-n', NS, '--set', 'operator.replicas=2', '--set', 'operator.logLevel=debug']);
    assert.match(upgrade.stdout, /REVISION: 2/);
    assert.equal((await cp.kubectl(['get', 'deployment', 'fg-floodgate-operator', '-n', NS, '-o', 'jsonpath={.spec.replicas}'])).stdout, '2');
    const config = (await cp.kubectl(['get', 'configmap', 'fg-floodgate-operator', '-n', NS, '-o', 'jsonpath={.data.operator\\.yaml}'])).stdout;
    assert.match(config, /^logLevel: debug$/m);
    const history = (await helm(['history', RELEASE, '-n', NS, '-o', 'json'])).stdout;
    assert.deepEqual(JSON.parse(history).map((h: { revision: number; status: string }) => [h.revision, h.status]), [[1, 'superseded'], [2, 'deployed']]);

    const uninstall = await helm(['uninstall', RELEASE, '-n', NS, '--wait']);
    assert.match(uninstall.stdout, /uninstalled/);
    const left = (await cp.kubectl(['get', 'deployment,serviceaccount,configmap,service,role,rolebinding', '-n', NS, '-l', `app.kubernetes.io/instance=${RELEASE}`, '-o', 'name'])).stdout;
    assert.equal(left.trim(), '');
    const cluster = await cp.kubectl(['get', 'clusterrole/fg-floodgate-operator'], { allowFail: true });
    assert.match(cluster.stderr, /NotFound/);
    if (generatedCrds().length) {
      // Helm never deletes CRDs from crds/: users' resources survive an uninstall.
      await cp.kubectl(['get', 'crd/virtualbuckets.floodgate.dev']);
    }
  });
});

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
    ['create', 'deployments.apps', '-n', 'apps'],
    ['delete', 'services', '-n', 'apps'],
    ['patch', 'configmaps', '-n', 'apps'],
    ['get', 'secrets', '-n', 'apps'],
    ['create', 'secrets', '-n', 'apps'],
    ['list', 'pods', '-A'],
    ['create', 'events.events.k8s.io', '-n', 'apps'],
    ['create', 'leases.coordination.k8s.io', '-n', NS],
    ['update', 'leases.coordination.k8s.io/fg-floodgate-operator', '-n', NS],
  ];
  const denied: string[][] = [
    ['list', 'secrets', '-A'],
    ['watch', 'secrets', '-n', 'apps'],
    ['*', 'secrets', '-A'],
    ['create', 'virtualbuckets.floodgate.dev', '-n', 'apps'],
    ['delete', 'pods', '-n', 'apps'],
    ['create', 'pods', '-n', 'apps'],
    ['create', 'leases.coordination.k8s.io', '-n', 'apps'],
    ['update', 'leases.coordination.k8s.io/someone-else', '-n', NS],
    ['create', 'customresourcedefinitions.apiextensions.k8s.io'],
    ['create', 'clusterrolebindings.rbac.authorization.k8s.io'],
    ['escalate', 'clusterroles.rbac.authorization.k8s.io'],
    ['impersonate', 'serviceaccounts', '-A'],
    ['create', 'serviceaccounts', '--subresource=token', '-n', NS],
    ['delete', 'namespaces/apps'],
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
