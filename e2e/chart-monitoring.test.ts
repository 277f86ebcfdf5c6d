// The chart's monitoring objects, from `helm template` alone (no cluster needed): all off by
// default; the ServiceMonitors, PodMonitor and PrometheusRule select what the operator and the
// webhook really label; the dashboard ConfigMap carries the repository's dashboard unchanged.
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { k8sBinDir } from './lib/controlplane.ts';
import { labelsFor } from '../operator/virtualbucket/render.ts';
import { INJECT_LABEL, SIDECAR_CONTROL_PORT } from '../operator/injection-contract.ts';

const ROOT = resolve(import.meta.dirname, '..');
const CHART = join(ROOT, 'charts', 'floodgate');
type Obj = { kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> }; [k: string]: any };

describe('helm chart: monitoring', () => {
  let home: string;
  let helm: string;
  before(() => {
    helm = join(k8sBinDir(), 'helm');
    home = mkdtempSync(join(tmpdir(), 'floodgate-helm-'));
  });
  after(() => { if (home) rmSync(home, { recursive: true, force: true }); });

  const template = async (...set: string[]): Promise<Obj[]> => {
    const { stdout } = await promisify(execFile)(helm, ['template', 'fg', CHART, '-n', 'floodgate-system', ...set.flatMap((s) => ['--set', s])], {
      env: { ...process.env, HOME: home, HELM_CACHE_HOME: join(home, 'cache'), HELM_CONFIG_HOME: join(home, 'config'), HELM_DATA_HOME: join(home, 'data') },
      maxBuffer: 64 * 1024 * 1024,
    });
    return parseAllDocuments(stdout).map((d) => d.toJS() as Obj | null).filter((o): o is Obj => o !== null);
  };
  const failure = async (...set: string[]) => template(...set).then(() => '', (e: { stderr?: string }) => String(e.stderr));

  test('off by default: no ServiceMonitor, PodMonitor, PrometheusRule or dashboard', async () => {
    const objs = await template();
    assert.deepEqual(objs.filter((o) => ['ServiceMonitor', 'PodMonitor', 'PrometheusRule'].includes(o.kind)), []);
    assert.equal(objs.some((o) => o.kind === 'ConfigMap' && o.metadata.name.endsWith('-dashboard')), false);
  });

  test('the operator pod carries scrape annotations for its metrics port, unless turned off; its own podAnnotations kept', async () => {
    const pod = (objs: Obj[]) => objs.find((o) => o.kind === 'Deployment')!.spec.template.metadata.annotations ?? {};
    const on = pod(await template('operator.podAnnotations.team=storage'));
    assert.deepEqual([on['prometheus.io/scrape'], on['prometheus.io/port'], on['prometheus.io/path'], on.team], ['true', '8080', '/metrics', 'storage']);
    assert.equal(pod(await template('metrics.scrapeAnnotations=false'))['prometheus.io/scrape'], undefined);
  });

  test('ServiceMonitors select the operator metrics Service and every rendered gateway Service by its port name', async () => {
    const objs = await template('metrics.serviceMonitor.enabled=true', 'metrics.serviceMonitor.labels.release=prom');
    const [operator, gateways] = objs.filter((o) => o.kind === 'ServiceMonitor');
    assert.ok(operator && gateways);
    const svc = objs.find((o) => o.kind === 'Service' && o.metadata.name.endsWith('-metrics'))!;
    for (const [k, v] of Object.entries(operator.spec.selector.matchLabels)) assert.equal(svc.metadata.labels![k], v, `metrics Service has ${k}`);
    assert.ok(svc.spec.ports.some((p: { name: string }) => p.name === operator.spec.endpoints[0].port));
    assert.equal(operator.metadata.labels!.release, 'prom');
    const labels = labelsFor({ metadata: { name: 'photos', namespace: 'apps' } } as never);
    for (const [k, v] of Object.entries(gateways.spec.selector.matchLabels)) assert.equal(labels[k], v, `rendered gateways carry ${k}`);
    assert.deepEqual(gateways.spec.namespaceSelector, { any: true });
    assert.equal(gateways.spec.endpoints[0].port, 'metrics');
    assert.match(await failure('metrics.serviceMonitor.enabled=true', 'metrics.service.enabled=false'), /needs metrics.service.enabled/);
  });

  test('the PodMonitor scrapes opted-in pods on the sidecar control port', async () => {
    const pm = (await template('metrics.podMonitor.enabled=true')).find((o) => o.kind === 'PodMonitor')!;
    assert.deepEqual(pm.spec.selector.matchLabels, { [INJECT_LABEL]: 'true' });
    assert.deepEqual(pm.spec.podMetricsEndpoints[0], { port: 'fg-control', path: '/_floodgate/metrics', interval: '30s' });
    assert.equal(SIDECAR_CONTROL_PORT, 9101);
  });

  test('the PrometheusRule has the four alerts, with thresholds from values', async () => {
    const rule = (await template('metrics.prometheusRule.enabled=true', 'metrics.prometheusRule.backendFullPercent=80')).find((o) => o.kind === 'PrometheusRule')!;
    const rules = rule.spec.groups[0].rules as { alert: string; expr: string; annotations: Record<string, string> }[];
    assert.deepEqual(rules.map((r) => r.alert), ['FloodgateBackendDown', 'FloodgateBackendNearlyFull', 'FloodgateS3ErrorRate', 'FloodgateExperimentStuck']);
    assert.match(rules[1]!.expr, /\* 100 > 80$/);
    assert.match(rules[3]!.expr, /floodgate_fault_experiment_expires_timestamp_seconds/);
    // Alert templates reach Prometheus as templates, not expanded (or broken) by helm.
    assert.match(rules[0]!.annotations.summary!, /\{\{ \$labels\.backend \}\}/);
    assert.match(await failure('metrics.prometheusRule.enabled=true', 'metrics.prometheusRule.errorRatePercent=0'), /errorRatePercent/);
  });

  test('the dashboard ConfigMap is labelled for the Grafana sidecar and holds the repository dashboard byte for byte', async () => {
    const cm = (await template('metrics.dashboard.enabled=true', 'metrics.dashboard.namespace=monitoring')).find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'fg-floodgate-dashboard')!;
    assert.equal(cm.metadata.labels!.grafana_dashboard, '1');
    assert.equal(cm.metadata.namespace, 'monitoring');
    assert.equal(cm.data['floodgate.json'], readFileSync(join(CHART, 'dashboards', 'floodgate.json'), 'utf8').trimEnd());
  });
});
