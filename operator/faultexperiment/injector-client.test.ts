// The client against a real `floodgate injector` process: what reconcile.ts relies on.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { freePort } from '../../e2e/lib/ports.ts';
import { spawnInjector, type SpawnedInjector } from '../../injector/testing/spawn.ts';
import { FaultExperimentSpec } from '../../crds/faultexperiment.ts';
import { createInjectorClient, observe, type Endpoint } from './injector-client.ts';
import { activations, faultId } from './plan.ts';

let inj: SpawnedInjector;
let ep: Endpoint;
const client = createInjectorClient(5_000);
const uid = 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee';
const spec = FaultExperimentSpec.parse({ target: { pods: { selector: {} } }, duration: '1m', lease: '10s',
  faults: [{ kind: 'error', code: 'SlowDown', status: 503, match: { operations: ['GetObject'] }, trigger: { everyNth: 2 } }, { kind: 'latency', ms: 1, match: { operations: ['PutObject'] } }] });
const ids = [faultId(uid, 0), faultId(uid, 1)];

before(async () => {
  inj = await spawnInjector([]);
  ep = { baseUrl: new URL(inj.controlUrl).origin, token: inj.token };
});
after(() => inj.stop());

test('inject is idempotent, confirmation comes from the list, stop and the ended view give the final counts', async () => {
  assert.deepEqual(await observe(client, ep, ids, false), { ok: true, faults: Object.fromEntries(ids.map((id) => [id, { state: 'unknown', matched: 0, fired: 0 }])) });
  const expiresAt = new Date(Date.now() + 60_000).toISOString();
  const acts = activations(spec, uid, expiresAt, { kind: 'pod' });
  await client.inject(ep, acts);
  await client.inject(ep, acts);
  const o = await observe(client, ep, ids, false);
  assert.ok(o.ok && ids.every((id) => o.faults[id]!.state === 'active'));
  assert.equal(await client.heartbeat(ep, ids), 2);
  for (let i = 0; i < 6; i++) await fetch(`${inj.url}/b/k${i}`);
  assert.equal(await client.stop(ep, ids[0]!), true);
  assert.equal(await client.stop(ep, ids[0]!), false, 'a second stop finds nothing');
  const end = await observe(client, ep, ids, true);
  assert.ok(end.ok);
  assert.deepEqual(end.faults[ids[0]!], { state: 'ended', reason: 'stopped', matched: 6, fired: 3 });
  assert.equal(end.faults[ids[1]!]!.state, 'active');
  assert.equal((await client.ledger(ep, ids[0]!)).filter((e) => e.decision === 'fired').length, 3);
});

test('a wrong token and a dead injector are errors with their cause, never a hang', async () => {
  await assert.rejects(client.list({ ...ep, token: 'wrong-token' }), (e: Error & { status?: number }) => e.name === 'InjectorError' && e.status === 401);
  const dead = await observe(client, { baseUrl: `http://127.0.0.1:${await freePort()}`, token: 'x' }, ids, false);
  assert.equal(dead.ok, false);
  assert.match(!dead.ok ? dead.error : '', /ECONNREFUSED|connect/);
});
