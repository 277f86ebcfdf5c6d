// The control API of the sidecar: auth, validation naming the field, lifecycle, absolute expiry,
// the dead-man's switch, the kill switch, the ledger and metrics. The upstream is a closed port,
// so "no fault" shows as the sidecar's own 502 and an injected fault as its S3 error.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startSidecar, type Sidecar } from '../injector/sidecar.ts';
import { checkCaps, DEFAULT_CAPS } from '../injector/faults/resource/caps.ts';
import { sleep, waitFor } from '../injector/testing/spawn.ts';

const TOKEN = 'control-test-token';

describe('control API', () => {
  let sc: Sidecar;
  const api = async (method: string, path: string, body?: unknown, token: string | null = TOKEN) => {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (token !== null) headers.authorization = `Bearer ${token}`;
    const r = await fetch(sc.controlUrl + path, { method, headers, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) });
    const text = await r.text();
    let parsed: any = text;
    try { parsed = JSON.parse(text); } catch { /* metrics */ }
    return { status: r.status, body: parsed };
  };
  const s3Status = async (path = '/bucket/key') => (await fetch(sc.url + path)).status;

  before(async () => {
    sc = await startSidecar({ host: '127.0.0.1', port: 0, controlHost: '127.0.0.1', controlPort: 0, upstream: 'http://127.0.0.1:1', token: TOKEN,
      checkCaps: (s) => checkCaps(s, DEFAULT_CAPS) });
  });
  after(() => sc.close());

  test('missing or wrong token is 401; metrics need none', async () => {
    assert.equal((await api('GET', '/_floodgate/faults', undefined, null)).status, 401);
    assert.equal((await api('GET', '/_floodgate/faults', undefined, 'nope')).status, 401);
    const r = await api('POST', '/_floodgate/faults', { kind: 'stall' }, 'nope');
    assert.equal(r.status, 401);
    assert.deepEqual(await api('GET', '/_floodgate/faults'), { status: 200, body: { faults: [] } });
    assert.match((await api('GET', '/_floodgate/metrics', undefined, null)).body, /floodgate_faults_active/);
  });

  test('bad input is a 400 naming the field', async () => {
    const cases: [unknown, RegExp][] = [
      [{ kind: 'meteor' }, /^kind: Invalid discriminator/],
      [{ kind: 'stall', duration: '-5s' }, /^duration: must be a positive duration/],
      [{ kind: 'stall', duration: '5 parsecs' }, /^duration: /],
      [{ kind: 'error', code: 'SlowDown' }, /^status: /],
      [{ kind: 'cpu', cores: 64 }, /^cores: 64 exceeds the cap of 1/],
      [{ kind: 'memory', bytes: '10Gi' }, /^bytes: \d+ exceeds the cap/],
      [{ kind: 'process', name: 'init', action: 'kill' }, /^name: process "init" is not an allowed target/],
      [{ kind: 'backendDown', backend: 'b' }, /^kind: "backendDown" faults run only in the gateway/],
      [{ faults: [{ kind: 'stall' }, { kind: 'latency' }] }, /^faults\.1\.ms: /],
      ['{not json', /^body is not valid JSON/],
      [[], /^\(body\): /],
    ];
    for (const [body, re] of cases) {
      const r = await api('POST', '/_floodgate/faults', body);
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.match(r.body.error, re, JSON.stringify(body));
    }
    assert.equal((await api('GET', '/_floodgate/faults')).body.faults.length, 0, 'nothing half-injected');
  });

  test('inject, list, get, stop one; the same id is idempotent, a different spec conflicts', async () => {
    const spec = { id: 'slow-1', kind: 'error', code: 'SlowDown', status: 503, duration: '1m' };
    const r = await api('POST', '/_floodgate/faults', spec);
    assert.equal(r.status, 201);
    assert.equal(r.body.id, 'slow-1');
    assert.equal(r.body.created, true);
    assert.equal((await api('POST', '/_floodgate/faults', spec)).body.created, false);
    assert.equal((await api('POST', '/_floodgate/faults', { ...spec, status: 500 })).status, 409);
    assert.deepEqual((await api('GET', '/_floodgate/faults')).body.faults.map((f: { id: string }) => f.id), ['slow-1']);
    assert.equal(await s3Status(), 503);
    const one = await api('GET', '/_floodgate/faults/slow-1');
    assert.equal(one.body.status, 'active');
    assert.equal(one.body.fired, 1);
    assert.equal((await api('DELETE', '/_floodgate/faults/slow-1')).status, 200);
    assert.equal((await api('DELETE', '/_floodgate/faults/slow-1')).status, 404);
    assert.equal((await api('GET', '/_floodgate/faults/slow-1')).body.reason, 'stopped');
    assert.equal(await s3Status(), 502);
  });

  test('absolute expiry: the fault reverts on its own', async () => {
    const r = await api('POST', '/_floodgate/faults', { kind: 'error', code: 'InternalError', status: 500, duration: '400ms' });
    assert.equal(Date.parse(r.body.expiresAt) - Date.parse(r.body.createdAt), 400);
    assert.equal(await s3Status(), 500);
    const ended = await waitFor(async () => { const g = await api('GET', `/_floodgate/faults/${r.body.id}`); return g.body.status === 'ended' ? g.body : undefined; }, 'expiry');
    assert.equal(ended.reason, 'expired');
    assert.equal(await s3Status(), 502);
  });

  test('dead-man\'s switch: heartbeats keep a leased fault alive; when they stop, it reverts', async () => {
    const r = await api('POST', '/_floodgate/faults', { kind: 'error', code: 'SlowDown', status: 503, duration: '1m', lease: '600ms' });
    for (let i = 0; i < 5; i++) {
      await sleep(250);
      assert.equal((await api('POST', '/_floodgate/faults/heartbeat', { ids: [r.body.id] })).body.renewed, 1);
    }
    assert.equal((await api('GET', `/_floodgate/faults/${r.body.id}`)).body.status, 'active');
    assert.equal(await s3Status(), 503);
    const ended = await waitFor(async () => { const g = await api('GET', `/_floodgate/faults/${r.body.id}`); return g.body.status === 'ended' ? g.body : undefined; }, 'lease loss');
    assert.equal(ended.reason, 'lease-lost');
    assert.equal(await s3Status(), 502);
    assert.equal((await api('POST', '/_floodgate/faults/heartbeat', { ids: 'all' })).status, 400);
  });

  test('kill switch stops everything; ledger and metrics record decisions', async () => {
    const batch = await api('POST', '/_floodgate/faults', { faults: [
      { id: 'k1', kind: 'error', code: 'SlowDown', status: 503, trigger: { everyNth: 2 } },
      { id: 'k2', kind: 'latency', ms: 1, match: { operations: ['PutObject'] } },
    ] });
    assert.equal(batch.status, 201);
    assert.equal(batch.body.faults.length, 2);
    const statuses = [await s3Status(), await s3Status(), await s3Status()];
    assert.deepEqual(statuses, [502, 503, 502]);
    const ledger = await api('GET', '/_floodgate/faults/ledger?faultId=k1');
    assert.deepEqual(ledger.body.entries.map((e: { decision: string }) => e.decision), ['skipped', 'fired', 'skipped']);
    assert.equal(ledger.body.entries[0].operation, 'GetObject');
    assert.equal((await api('GET', '/_floodgate/faults/ledger?limit=0')).status, 400);
    const metrics = (await api('GET', '/_floodgate/metrics', undefined, null)).body as string;
    assert.match(metrics, /floodgate_faults_active\{kind="error"\} 1/);
    assert.match(metrics, /floodgate_fault_injections_total\{kind="error",outcome="skipped"\} \d+/);
    assert.deepEqual((await api('DELETE', '/_floodgate/faults')).body, { stopped: 2 });
    assert.deepEqual((await api('GET', '/_floodgate/faults')).body.faults, []);
    assert.match((await api('GET', '/_floodgate/metrics', undefined, null)).body, /floodgate_fault_activations_total\{kind="error",outcome="kill-switch"\} 1/);
  });

  test('a batch is all or nothing: a duplicate id is a 400, a fault that cannot start reverts the ones started before it', async () => {
    const dup = await api('POST', '/_floodgate/faults', { faults: [{ id: 'd1', kind: 'stall' }, { id: 'd1', kind: 'latency', ms: 5 }] });
    assert.equal(dup.status, 400, JSON.stringify(dup.body));
    assert.match(dup.body.error, /id "d1" appears twice/);
    await api('POST', '/_floodgate/faults', { id: 'held', kind: 'latency', ms: 1 });
    const clash = await api('POST', '/_floodgate/faults', { faults: [{ id: 'b1', kind: 'error', code: 'SlowDown', status: 503 }, { id: 'held', kind: 'latency', ms: 2 }] });
    assert.equal(clash.status, 409, JSON.stringify(clash.body));
    assert.deepEqual((await api('GET', '/_floodgate/faults')).body.faults.map((f: { id: string }) => f.id), ['held']);
    assert.equal(await s3Status(), 502);
    await api('DELETE', '/_floodgate/faults');
  });

  test('a fault id with invalid percent-encoding in the path is a 400', async () => {
    for (const method of ['GET', 'DELETE']) {
      const r = await api(method, '/_floodgate/faults/%E0%A4%A');
      assert.equal(r.status, 400, JSON.stringify(r.body));
      assert.match(r.body.error, /percent-encoding/);
    }
  });

  test('a fault whose expiresAt has already passed is refused and never runs', async () => {
    const r = await api('POST', '/_floodgate/faults', { kind: 'error', code: 'SlowDown', status: 503, expiresAt: new Date(Date.now() - 1000).toISOString() });
    assert.equal(r.status, 400, JSON.stringify(r.body));
    assert.match(r.body.error, /^expiresAt: .*passed/);
    assert.equal(await s3Status(), 502);
    assert.deepEqual((await api('GET', '/_floodgate/faults')).body.faults, []);
  });

  test('the S3 listener serves the control API too, and unknown control paths are 404', async () => {
    const r = await fetch(`${sc.url}/_floodgate/faults`, { headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(r.status, 200);
    assert.equal((await api('GET', '/_floodgate/nothing')).status, 404);
    assert.equal((await api('PUT', '/_floodgate/faults')).status, 405);
  });
});
