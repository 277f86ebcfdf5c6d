// Browser POST uploads (PostObject) against the gateway on the embedded store: a form built as a
// browser sends it, its policy signed with SigV4 the way the AWS SDKs' createPresignedPost does
// (or with SigV2: AWSAccessKeyId + base64 HMAC-SHA1 signature, as ceph/s3-tests and old SDKs);
// the object lands with its metadata; a bad signature, an expired policy, a failed condition, an
// unlisted field and a file over the size range are refused and store nothing.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { hmac } from '../proxy/auth/canonical.ts';
import { deriveSigningKey } from '../proxy/auth/signing-key.ts';
import { startTestGateway, type TestGateway } from './lib/gateway.ts';
import { errorCode, md5, rawRequest, xmlField } from './lib/raw-s3.ts';
import { bytes, s3Error } from './lib/s3.ts';

let gw: TestGateway;
let c: S3Client;
const B = 'post-uploads';

before(async () => {
  gw = await startTestGateway();
  c = gw.client();
  await c.send(new CreateBucketCommand({ Bucket: B }));
});
after(async () => { await gw?.close(); });

interface FormOptions {
  key?: string;
  file: Buffer;
  conditions?: unknown[];
  expiration?: Date | string;
  extra?: Record<string, string>;
  secret?: string;
  /** Sign with SigV2 instead: AWSAccessKeyId, policy, signature. */
  sigv2?: boolean;
}

function form(o: FormOptions): { body: Buffer; type: string } {
  const now = new Date();
  const date = now.toISOString().slice(0, 10).replace(/-/g, '');
  const credential = `${gw.creds.accessKeyId}/${date}/us-east-1/s3/aws4_request`;
  const amzDate = `${date}T000000Z`;
  const policy = Buffer.from(JSON.stringify({
    expiration: typeof o.expiration === 'string' ? o.expiration : (o.expiration ?? new Date(Date.now() + 600_000)).toISOString(),
    conditions: o.conditions ?? [{ bucket: B }, ['starts-with', '$key', 'uploads/'],
      ...(o.sigv2 ? [] : [{ 'x-amz-algorithm': 'AWS4-HMAC-SHA256' }, { 'x-amz-credential': credential }, { 'x-amz-date': amzDate }]),
      ['starts-with', '$Content-Type', ''], ['starts-with', '$x-amz-meta-who', ''], ['content-length-range', 1, 1024 * 1024]],
  })).toString('base64');
  const secret = o.secret ?? gw.creds.secretAccessKey;
  const auth: Record<string, string> = o.sigv2
    ? { AWSAccessKeyId: gw.creds.accessKeyId, Policy: policy, Signature: createHmac('sha1', secret).update(policy).digest('base64') }
    : { 'X-Amz-Algorithm': 'AWS4-HMAC-SHA256', 'X-Amz-Credential': credential, 'X-Amz-Date': amzDate, Policy: policy,
        'X-Amz-Signature': hmac(deriveSigningKey(secret, date, 'us-east-1'), policy).toString('hex') };
  const fields: Record<string, string> = {
    key: o.key ?? 'uploads/${filename}', 'Content-Type': 'text/plain', 'x-amz-meta-who': 'browser', ...auth, ...o.extra,
  };
  const boundary = `----floodgate${randomBytes(8).toString('hex')}`;
  const parts = Object.entries(fields).map(([k, v]) => `--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`);
  const body = Buffer.concat([
    Buffer.from(parts.join('') + `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="note.txt"\r\nContent-Type: text/plain\r\n\r\n`),
    o.file, Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
  return { body, type: `multipart/form-data; boundary=${boundary}` };
}

const post = (f: { body: Buffer; type: string }) => rawRequest(gw.url, { method: 'POST', path: `/${B}`, body: f.body, headers: { 'content-type': f.type } });

test('a signed browser form stores the file under its key, with its metadata', async () => {
  const file = Buffer.concat([randomBytes(300_000), Buffer.from('\r\n--not-the-boundary\r\n')]);
  const r = await post(form({ file }));
  assert.equal(r.status, 204, r.body.toString());
  assert.equal(r.headers.etag, `"${md5(file)}"`);
  const g = await c.send(new GetObjectCommand({ Bucket: B, Key: 'uploads/note.txt' }));
  assert.deepEqual(await bytes(g.Body), file);
  assert.equal(g.ContentType, 'text/plain');
  assert.deepEqual(g.Metadata, { who: 'browser' });
  const created = await post(form({ file: Buffer.from('x'), key: 'uploads/201', extra: { success_action_status: '201' }, conditions: undefined }));
  // success_action_status is a field the default policy does not list: refused.
  assert.equal(created.status, 403);
});

test('refusals: bad signature, expired policy, failed condition, unlisted field, size out of range', async () => {
  const cases: [string, FormOptions, number, string][] = [
    ['bad signature', { file: Buffer.from('a'), secret: 'not-the-secret-at-all' }, 403, 'SignatureDoesNotMatch'],
    ['expired', { file: Buffer.from('a'), expiration: new Date(Date.now() - 1000) }, 403, 'AccessDenied'],
    ['key outside the policy', { file: Buffer.from('a'), key: 'elsewhere/x' }, 403, 'AccessDenied'],
    ['unlisted field', { file: Buffer.from('a'), extra: { 'x-amz-meta-other': '1' } }, 403, 'AccessDenied'],
    ['empty file', { file: Buffer.alloc(0) }, 400, 'EntityTooSmall'],
    ['file too large', { file: Buffer.alloc(1024 * 1024 + 1) }, 400, 'EntityTooLarge'],
  ];
  for (const [what, o, status, code] of cases) {
    const r = await post(form({ ...o, key: o.key ?? `uploads/${what.replace(/ /g, '-')}` }));
    assert.equal(r.status, status, `${what}: ${r.body}`);
    assert.equal(errorCode(r.body), code, what);
    assert.ok(xmlField(r.body, 'RequestId'), what);
    const key = o.key ?? `uploads/${what.replace(/ /g, '-')}`;
    assert.equal((await s3Error(c.send(new HeadObjectCommand({ Bucket: B, Key: key })))).$metadata.httpStatusCode, 404, what);
  }
});

test('a form whose file is not the last field is MalformedPOSTRequest and stores nothing', async () => {
  const f = form({ file: Buffer.from('hello'), key: 'uploads/trailing' });
  const body = Buffer.concat([f.body.subarray(0, f.body.length - 4), Buffer.from(`\r\nContent-Disposition: form-data; name="late"\r\n\r\nx\r\n--${/boundary=(.*)$/.exec(f.type)![1]}--\r\n`)]);
  const r = await post({ body, type: f.type });
  assert.equal(r.status, 400, r.body.toString());
  assert.equal(errorCode(r.body), 'MalformedPOSTRequest');
  assert.equal((await s3Error(c.send(new HeadObjectCommand({ Bucket: B, Key: 'uploads/trailing' })))).$metadata.httpStatusCode, 404);
});

test('SigV2 forms: AWSAccessKeyId + signature store the file; a bad, missing or unknown-key signature stores nothing', async () => {
  const file = randomBytes(5000);
  const r = await post(form({ file, sigv2: true, key: 'uploads/v2' }));
  assert.equal(r.status, 204, r.body.toString());
  const g = await c.send(new GetObjectCommand({ Bucket: B, Key: 'uploads/v2' }));
  assert.deepEqual(await bytes(g.Body), file);
  assert.deepEqual(g.Metadata, { who: 'browser' });
  const cases: [string, FormOptions, number, string][] = [
    ['v2-bad-signature', { file, sigv2: true, secret: 'not-the-secret-at-all' }, 403, 'SignatureDoesNotMatch'],
    ['v2-no-signature', { file, sigv2: true, extra: { Signature: '' } }, 400, 'InvalidArgument'],
    ['v2-unknown-key', { file, sigv2: true, extra: { AWSAccessKeyId: 'AKIANOSUCHKEY' } }, 403, 'InvalidAccessKeyId'],
    ['v2-expired', { file, sigv2: true, expiration: new Date(Date.now() - 1000) }, 403, 'AccessDenied'],
  ];
  for (const [key, o, status, code] of cases) {
    const res = await post(form({ ...o, key: `uploads/${key}` }));
    assert.equal(res.status, status, `${key}: ${res.body}`);
    assert.equal(errorCode(res.body), code, key);
    assert.equal((await s3Error(c.send(new HeadObjectCommand({ Bucket: B, Key: `uploads/${key}` })))).$metadata.httpStatusCode, 404, key);
  }
});

test('policy documents: match types are case-insensitive; a non-ISO expiration or a one-sided size range is InvalidPolicyDocument', async () => {
  const conditions = (range: unknown[]) => [{ BuCkEt: B }, ['StArTs-WiTh', '$KeY', 'uploads/'], ['Starts-With', '$Content-Type', ''], ['starts-with', '$x-amz-meta-who', ''], range];
  const ok = await post(form({ file: Buffer.from('case'), sigv2: true, key: 'uploads/case', conditions: conditions(['content-length-range', 0, 100]) }));
  assert.equal(ok.status, 204, ok.body.toString());
  const cases: [string, FormOptions][] = [
    ['python-str-expiration', { file: Buffer.from('a'), sigv2: true, expiration: new Date(Date.now() + 600_000).toISOString().replace('T', ' ').replace('Z', '+00:00') }],
    ['one-sided-range', { file: Buffer.from('a'), sigv2: true, conditions: conditions(['content-length-range', 0]) }],
  ];
  for (const [key, o] of cases) {
    const r = await post(form({ ...o, key: `uploads/${key}` }));
    assert.equal(r.status, 400, `${key}: ${r.body}`);
    assert.equal(errorCode(r.body), 'InvalidPolicyDocument', key);
    assert.equal((await s3Error(c.send(new HeadObjectCommand({ Bucket: B, Key: `uploads/${key}` })))).$metadata.httpStatusCode, 404, key);
  }
});
