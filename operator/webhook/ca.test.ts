import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { issueCa, issuedBy, issueServing, notAfter } from './ca.ts';
import { oid, time } from './der.ts';

const now = new Date('2026-12-01T12:00:00Z');
const DAY = 86_400_000;

test('DER pieces: OIDs with multi-byte arcs, UTCTime before 2050 and GeneralizedTime after', () => {
  assert.equal(oid('1.2.840.10045.4.3.2').toString('hex'), '06082a8648ce3d040302');
  assert.equal(time(new Date('2026-12-01T12:00:00Z')).toString('ascii').slice(2), '261201120000Z');
  assert.equal(time(new Date('2051-01-02T03:04:05Z')).toString('ascii').slice(2), '20510102030405Z');
});

test('the CA and the serving certificate parse, chain and carry the right extensions', () => {
  const ca = issueCa({ commonName: 'floodgate-webhook-ca', now, validMs: 3650 * DAY });
  const srv = issueServing(ca, { hosts: ['fg-webhook.floodgate-system.svc', 'fg-webhook', '127.0.0.1', '::1'], now, validMs: 90 * DAY });
  const c = new X509Certificate(ca.certPem);
  const s = new X509Certificate(srv.certPem);
  assert.equal(c.ca, true);
  assert.equal(s.ca, false);
  assert.ok(s.checkIssued(c));
  assert.ok(issuedBy(srv.certPem, ca.certPem));
  assert.ok(!issuedBy(srv.certPem, issueCa({ commonName: 'other', now, validMs: DAY }).certPem));
  assert.equal(s.checkHost('fg-webhook.floodgate-system.svc'), 'fg-webhook.floodgate-system.svc');
  assert.equal(s.checkIP('127.0.0.1'), '127.0.0.1');
  assert.equal(s.checkIP('::1'), '::1');
  assert.deepEqual(s.keyUsage, ['1.3.6.1.5.5.7.3.1']);
  assert.equal(notAfter(srv.certPem).getTime(), now.getTime() + 90 * DAY);
  assert.ok(new Date(s.validFrom) < now);
});

test('openssl (an independent parser) verifies the chain for serverAuth', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fg-ca-'));
  try {
    const ca = issueCa({ commonName: 'floodgate-webhook-ca', now: new Date(), validMs: DAY });
    const srv = issueServing(ca, { hosts: ['127.0.0.1'], now: new Date(), validMs: DAY });
    writeFileSync(join(dir, 'ca.pem'), ca.certPem);
    writeFileSync(join(dir, 'srv.pem'), srv.certPem);
    const out = execFileSync('openssl', ['verify', '-x509_strict', '-purpose', 'sslserver', '-CAfile', join(dir, 'ca.pem'), join(dir, 'srv.pem')], { encoding: 'utf8' });
    assert.match(out, /srv\.pem: OK/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a TLS client that trusts only the CA completes a handshake with the serving certificate', async () => {
  const ca = issueCa({ commonName: 'floodgate-webhook-ca', now: new Date(), validMs: DAY });
  const srv = issueServing(ca, { hosts: ['localhost', '127.0.0.1'], now: new Date(), validMs: DAY });
  const server = createServer({ cert: srv.certPem, key: srv.keyPem }, (_q, r) => r.end('ok'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const port = (server.address() as { port: number }).port;
    const body = await new Promise<string>((resolve, reject) => {
      request({ host: '127.0.0.1', port, ca: ca.certPem, servername: 'localhost', agent: false }, (res) => {
        let b = '';
        res.on('data', (d) => { b += d; }).on('end', () => resolve(b));
      }).on('error', reject).end();
    });
    assert.equal(body, 'ok');
  } finally {
    server.close();
  }
});
