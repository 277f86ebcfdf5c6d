import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { webhookConfigFrom } from './flags.ts';

const from = (flags: Record<string, string>) => webhookConfigFrom((k) => flags[k], 'ghcr.io/floodgate/floodgate:1');

test('no --webhook-listen: no webhooks', () => assert.equal(from({}), undefined));

test('defaults: the gateway image, the Service names, the always-protected namespaces', () => {
  const c = from({ 'webhook-listen': '0.0.0.0:9443', 'operator-namespace': 'fg', 'webhook-host': '127.0.0.1' })!;
  assert.deepEqual(c.listen, { host: '0.0.0.0', port: 9443 });
  assert.equal(c.settings.sidecar.image, 'ghcr.io/floodgate/floodgate:1');
  assert.deepEqual(c.hosts, ['floodgate-webhook.fg.svc', 'floodgate-webhook', 'floodgate-webhook.fg', 'floodgate-webhook.fg.svc.cluster.local', '127.0.0.1']);
  assert.deepEqual(c.settings.protectedNamespaces, ['kube-system', 'kube-public', 'kube-node-lease', 'fg']);
  assert.equal(c.settings.maxPodPercent, 100);
  assert.equal(c.settings.sidecar.ceiling.maxMemory, '3Gi');
});

test('values from flags, the ceiling by key', () => {
  const c = from({ 'webhook-listen': '[::1]:8443', 'operator-namespace': 'fg', 'protected-namespaces': 'payments, fg', 'max-pod-share': '25',
    'sidecar-max-memory': '1Gi', 'sidecar-ceiling': 'maxMemory=8Gi,cpuLimit=2', 'injector-image': 'x:2', 'injector-pull-policy': 'Always' })!;
  assert.deepEqual(c.listen, { host: '::1', port: 8443 });
  assert.deepEqual(c.settings.protectedNamespaces, ['kube-system', 'kube-public', 'kube-node-lease', 'fg', 'payments']);
  assert.equal(c.settings.maxPodPercent, 25);
  assert.equal(c.settings.sidecar.caps.maxMemory, '1Gi');
  assert.deepEqual([c.settings.sidecar.ceiling.maxMemory, c.settings.sidecar.ceiling.cpuLimit, c.settings.sidecar.ceiling.maxDisk], ['8Gi', '2', '20Gi']);
  assert.deepEqual([c.settings.sidecar.image, c.settings.sidecar.imagePullPolicy], ['x:2', 'Always']);
});

test('bad values name their flag', () => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ 'webhook-listen': '9443' }, /--webhook-listen: expected host:port/],
    [{ 'webhook-listen': ':1', 'sidecar-memory-limit': 'lots' }, /--webhook-listen|--sidecar-memory-limit: expected a quantity/],
    [{ 'webhook-listen': 'a:1', 'sidecar-memory-limit': 'lots' }, /--sidecar-memory-limit: expected a quantity/],
    [{ 'webhook-listen': 'a:1', 'sidecar-ceiling': 'maxRam=1Gi' }, /--sidecar-ceiling: expected key=quantity/],
    [{ 'webhook-listen': 'a:1', 'sidecar-max-memory': '8Gi' }, /--sidecar-max-memory 8Gi is above --sidecar-ceiling maxMemory=3Gi/],
    [{ 'webhook-listen': 'a:1', 'max-pod-share': '0' }, /--max-pod-share: expected a percentage/],
    [{ 'webhook-listen': 'a:1', 'injector-pull-policy': 'Sometimes' }, /--injector-pull-policy/],
  ];
  for (const [flags, message] of cases) assert.throws(() => from(flags), message, JSON.stringify(flags));
});
