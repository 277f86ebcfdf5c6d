// The webhook's PKI: a self-signed CA and a serving certificate it signs, both ECDSA P-256 with
// SHA-256 (fast to make, accepted by Go's crypto/x509 in the API server). Only this one shape.
import { createHash, createPrivateKey, generateKeyPairSync, randomBytes, sign, X509Certificate, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import { bits, bool, explicit, implicit, octets, oid, seq, set, time, uint, utf8 } from './der.ts';

export interface CertKey {
  certPem: string;
  keyPem: string;
}

const ECDSA_SHA256 = seq(oid('1.2.840.10045.4.3.2'));
const name = (cn: string) => seq(set(seq(oid('2.5.4.3'), utf8(cn))));
const ext = (id: string, critical: boolean, value: Buffer) => seq(oid(id), ...(critical ? [bool(true)] : []), octets(value));
const pem = (der: Buffer) => `-----BEGIN CERTIFICATE-----\n${der.toString('base64').match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE-----\n`;

function keyId(spki: Buffer): Buffer {
  // RFC 5280 4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits (the tail of the SPKI: 65 bytes for P-256).
  return createHash('sha1').update(spki.subarray(spki.length - 65)).digest();
}

function newKey(): { priv: KeyObject; spki: Buffer; keyPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return { priv: privateKey, spki: publicKey.export({ type: 'spki', format: 'der' }), keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string };
}

function certificate(o: { subject: string; issuer: string; spki: Buffer; signer: KeyObject; notBefore: Date; notAfter: Date; extensions: Buffer[] }): string {
  const serial = randomBytes(16);
  serial[0] = (serial[0]! & 0x7f) | 0x01;
  const tbs = seq(
    explicit(0, uint(Buffer.from([2]))),
    uint(serial),
    ECDSA_SHA256,
    name(o.issuer),
    seq(time(o.notBefore), time(o.notAfter)),
    name(o.subject),
    o.spki,
    explicit(3, seq(...o.extensions)),
  );
  return pem(seq(tbs, ECDSA_SHA256, bits(sign('sha256', tbs, o.signer))));
}

/** Backdated a little: the API server's clock may run behind ours. */
const window = (now: Date, validMs: number) => ({ notBefore: new Date(now.getTime() - 5 * 60_000), notAfter: new Date(now.getTime() + validMs) });

export function issueCa(o: { commonName: string; now: Date; validMs: number }): CertKey {
  const k = newKey();
  const id = keyId(k.spki);
  const certPem = certificate({
    subject: o.commonName, issuer: o.commonName, spki: k.spki, signer: k.priv, ...window(o.now, o.validMs),
    extensions: [
      ext('2.5.29.19', true, seq(bool(true))),                          // basicConstraints CA:TRUE
      ext('2.5.29.15', true, bits(Buffer.from([0x86]), 1)),              // digitalSignature, keyCertSign, cRLSign
      ext('2.5.29.14', false, octets(id)),
    ],
  });
  return { certPem, keyPem: k.keyPem };
}

export function issueServing(ca: CertKey, o: { hosts: string[]; now: Date; validMs: number }): CertKey {
  const k = newKey();
  const caCert = new X509Certificate(ca.certPem);
  const caSpki = caCert.publicKey.export({ type: 'spki', format: 'der' });
  const sans = o.hosts.map((h) => (isIP(h) === 4 ? implicit(7, Buffer.from(h.split('.').map(Number)))
    : isIP(h) === 6 ? implicit(7, ipv6(h)) : implicit(2, Buffer.from(h, 'ascii'))));
  const certPem = certificate({
    subject: o.hosts[0] ?? 'floodgate-webhook', issuer: commonNameOf(caCert), spki: k.spki, signer: createPrivateKey(ca.keyPem), ...window(o.now, o.validMs),
    extensions: [
      ext('2.5.29.19', true, seq()),                                     // basicConstraints CA:FALSE
      ext('2.5.29.15', true, bits(Buffer.from([0x80]), 7)),              // digitalSignature
      ext('2.5.29.37', false, seq(oid('1.3.6.1.5.5.7.3.1'))),            // serverAuth
      ext('2.5.29.17', false, seq(...sans)),
      ext('2.5.29.14', false, octets(keyId(k.spki))),
      ext('2.5.29.35', false, seq(implicit(0, keyId(caSpki)))),
    ],
  });
  return { certPem, keyPem: k.keyPem };
}

function commonNameOf(c: X509Certificate): string {
  const m = /(?:^|\n)CN=([^\n]*)/.exec(c.subject);
  if (!m) throw new Error('CA certificate has no common name');
  return m[1]!;
}

function ipv6(h: string): Buffer {
  const [head, tail] = h.split('::') as [string, string | undefined];
  const parse = (s: string) => (s ? s.split(':').map((x) => parseInt(x, 16)) : []);
  const a = parse(head);
  const b = tail === undefined ? [] : parse(tail);
  const words = tail === undefined ? a : [...a, ...Array(8 - a.length - b.length).fill(0), ...b];
  return Buffer.from(words.flatMap((w) => [w >> 8, w & 0xff]));
}

/** When a PEM certificate stops being valid. */
export const notAfter = (certPem: string) => new Date(new X509Certificate(certPem).validTo);

/** Whether the serving certificate was signed by this CA (a CA rotation invalidates it). */
export const issuedBy = (certPem: string, caPem: string) => {
  try {
    return new X509Certificate(certPem).verify(new X509Certificate(caPem).publicKey);
  } catch {
    return false;
  }
};
