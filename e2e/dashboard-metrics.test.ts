// The Grafana dashboard and the chart's alert rules query only what Floodgate really exports:
// every floodgate_* name in them is a family (or a histogram's _bucket/_sum/_count) found by
// scraping a running gateway (with its fault engine), a running sidecar, and a running operator
// against a real kube-apiserver. Also checks the dashboard JSON is one Grafana can load:
// unique panel ids, grid positions, only declared template variables, the datasource variable.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { newCredentials, ROOT, tempDir } from './lib/gateway.ts';
import { startControlPlane, type ControlPlane } from './lib/controlplane.ts';
import { startOperator, type OperatorProcess } from './lib/operator.ts';
import { parseMetrics, spawnLogged, type LoggedProcess } from './lib/logged-process.ts';
import { spawnInjector, type SpawnedInjector } from '../injector/testing/spawn.ts';

const DASHBOARD = join(ROOT, 'charts', 'floodgate', 'dashboards', 'floodgate.json');
const RULES = join(ROOT, 'charts', 'floodgate', 'templates', 'monitoring.yaml');
type Panel = { id: number; type: string; title: string; gridPos: { h: number; w: number; x: number; y: number }; datasource?: { uid: string }; targets?: { expr: string }[] };
const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as {
  uid: string; title: string; panels: Panel[];
  templating: { list: { name: string; query: unknown }[] };
  annotations: { list: { expr?: string }[] };
};

/** The floodgate_* names a PromQL expression reads. */
const namesIn = (expr: string) => [...expr.matchAll(/\bfloodgate_[a-z0-9_]+/g)].map((m) => m[0]);

function queriedNames(): Set<string> {
  const exprs = [
    ...dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)),
    ...dashboard.annotations.list.flatMap((a) => (a.expr ? [a.expr] : [])),
    ...dashboard.templating.list.map((v) => JSON.stringify(v.query ?? '')),
    readFileSync(RULES, 'utf8'),
  ];
  return new Set(exprs.flatMap(namesIn));
}

describe('dashboard JSON', () => {
  test('loads as a Grafana dashboard: ids unique, every panel placed on the 24-column grid, one datasource variable', () => {
    assert.equal(dashboard.uid, 'floodgate');
    const ids = dashboard.panels.map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length, 'panel ids are unique');
    for (const p of dashboard.panels) {
      assert.ok(p.gridPos.x >= 0 && p.gridPos.x + p.gridPos.w <= 24 && p.gridPos.h > 0, `${p.title} fits the grid`);
      if (p.type === 'row') continue;
      assert.equal(p.datasource?.uid, '${datasource}', `${p.title} uses the datasource variable`);
      assert.ok(p.targets?.length, `${p.title} queries something`);
      for (const t of p.targets!) {
        let depth = 0;
        for (const ch of t.expr) { depth += ch === '(' ? 1 : ch === ')' ? -1 : 0; assert.ok(depth >= 0, `${p.title}: ${t.expr}`); }
        assert.equal(depth, 0, `${p.title}: balanced parentheses in ${t.expr}`);
      }
    }
    const declared = new Set(['__rate_interval', '__interval', '__all', ...dashboard.templating.list.map((v) => v.name)]);
    const used = new Set([...JSON.stringify(dashboard).matchAll(/\$\{?([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1]!));
    for (const v of used) assert.ok(declared.has(v), `$${v} is a declared variable`);
    // Panels do not overlap.
    const cells = new Set<string>();
    for (const p of dashboard.panels) for (let x = p.gridPos.x; x < p.gridPos.x + p.gridPos.w; x++) for (let y = p.gridPos.y; y < p.gridPos.y + p.gridPos.h; y++) {
      assert.ok(!cells.has(`${x},${y}`), `${p.title} overlaps another panel at ${x},${y}`);
      cells.add(`${x},${y}`);
    }
  });
});

describe('every metric the dashboard and the alerts query is exported', () => {
  let cp: ControlPlane;
  let op: OperatorProcess;
  let gw: LoggedProcess;
  let sidecar: SpawnedInjector;
  let dir: string;

  before(async () => {
    dir = tempDir('floodgate-dash-');
    mkdirSync(join(dir, 'data'));
    const creds = newCredentials();
    writeFileSync(join(dir, 'gateway.yaml'), stringify({
      backends: [{ name: 'local', kind: 'fs', path: join(dir, 'local') }],
      virtualBuckets: [{ name: 'dash', backends: ['local'] }],
      credentials: [creds],
    }));
    gw = await spawnLogged(['gateway', '--listen', '127.0.0.1:0', '--data-dir', join(dir, 'data'), '--config', join(dir, 'gateway.yaml'), '--fault-token', 'dash-token']);
    sidecar = await spawnInjector([]);
    cp = await startControlPlane();
    await cp.kubectl(['apply', '--server-side', '-f', join(ROOT, 'crds')]);
    await cp.kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd/faultexperiments.floodgate.dev']);
    op = startOperator(cp, ['--leader-elect', 'false']);
  });

  const scrapeAll = async () => {
    const gwUrl = (await gw.waitFor((l) => l.msg === 'gateway listening')).url as string;
    return Promise.all([
      fetch(`${gwUrl}/metrics`).then((r) => r.text()),
      fetch(`${sidecar.controlUrl}/_floodgate/metrics`).then((r) => r.text()),
      op.httpUrl.then((u) => fetch(`${u}/metrics`)).then((r) => r.text()),
    ]);
  };

  after(async () => {
    await op?.stop();
    await cp?.stop();
    await gw?.stop();
    await sidecar?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('gateway, sidecar and operator together export every queried name', async () => {
    const scrapes = await scrapeAll();
    const families = new Map<string, string>();
    for (const text of scrapes) for (const [name, type] of parseMetrics(text).types) families.set(name, type);
    const missing: string[] = [];
    for (const name of queriedNames()) {
      const base = name.replace(/_(bucket|sum|count)$/, '');
      const ok = families.has(name) || (base !== name && ['histogram', 'summary'].includes(families.get(base) ?? ''));
      if (!ok) missing.push(name);
    }
    assert.deepEqual(missing, [], `exported floodgate families: ${[...families.keys()].filter((n) => n.startsWith('floodgate_')).join(', ')}`);
    assert.ok(queriedNames().size >= 20, 'the check saw the queries');
  });

  test('docs/observability.md lists exactly the floodgate_* families the three processes export', async () => {
    const families = new Set<string>();
    for (const text of await scrapeAll()) for (const name of parseMetrics(text).types.keys()) if (name.startsWith('floodgate_')) families.add(name);
    const documented = new Set([...readFileSync(join(ROOT, 'docs', 'observability.md'), 'utf8').matchAll(/`(floodgate_[a-z0-9_]+)`/g)].map((m) => m[1]!));
    assert.deepEqual([...families].filter((n) => !documented.has(n)).sort(), [], 'exported but not documented');
    assert.deepEqual([...documented].filter((n) => !families.has(n)).sort(), [], 'documented but not exported');
  });
});
