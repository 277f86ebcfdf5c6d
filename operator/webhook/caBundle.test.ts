import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { issuedBy, notAfter } from './ca.ts';
import { CA_VALID_MS, renew, SERVING_VALID_MS } from './caBundle.ts';

const DAY = 86_400_000;
const t0 = new Date('2026-12-01T00:00:00Z');
const at = (ms: number) => new Date(t0.getTime() + ms);
const HOSTS = ['fg-webhook.fg.svc', '127.0.0.1'];

test('an empty Secret gets a CA and a serving certificate it signed', () => {
  const s = renew({}, HOSTS, t0)!;
  assert.ok(issuedBy(s.serving.certPem, s.ca.certPem));
  assert.equal(notAfter(s.ca.certPem).getTime(), t0.getTime() + CA_VALID_MS);
  assert.equal(renew(s, HOSTS, at(30 * DAY)), undefined, 'nothing to do a month later');
});

test('the serving certificate is renewed with a third of its life left; the CA stays', () => {
  const s = renew({}, HOSTS, t0)!;
  const later = renew(s, HOSTS, at(SERVING_VALID_MS - 29 * DAY))!;
  assert.equal(later.ca.certPem, s.ca.certPem);
  assert.notEqual(later.serving.certPem, s.serving.certPem);
  assert.ok(issuedBy(later.serving.certPem, s.ca.certPem));
});

test('a new name (another Service or --webhook-host) reissues the serving certificate', () => {
  const s = renew({}, HOSTS, t0)!;
  const more = renew(s, [...HOSTS, 'localhost'], at(DAY))!;
  assert.notEqual(more.serving.certPem, s.serving.certPem);
});

test('a CA near its end is replaced, and the old one stays in the bundle until it expires', () => {
  const s = renew({}, HOSTS, t0)!;
  const rotated = renew(s, HOSTS, at(CA_VALID_MS - 100 * DAY))!;
  assert.notEqual(rotated.ca.certPem, s.ca.certPem);
  assert.equal(rotated.oldCaPem, s.ca.certPem);
  assert.ok(issuedBy(rotated.serving.certPem, rotated.ca.certPem));
  const afterOldExpired = renew(rotated, HOSTS, at(CA_VALID_MS + DAY))!;
  assert.equal(afterOldExpired.oldCaPem, undefined);
});

test('a serving certificate from another CA (Secret edited by hand) is reissued', () => {
  const a = renew({}, HOSTS, t0)!;
  const b = renew({}, HOSTS, t0)!;
  const mixed = renew({ ca: a.ca, serving: b.serving }, HOSTS, t0)!;
  assert.ok(issuedBy(mixed.serving.certPem, a.ca.certPem));
});
