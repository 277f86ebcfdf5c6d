// The verifier against what a real client sends: @aws-sdk/client-s3 and its presigner over a
// real socket on 127.0.0.1, with keys that stress the canonical URI.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { readAll, startAuthServer } from './test-server.fixture.ts';

const creds = { accessKeyId: 'FGTESTKEY', secretAccessKey: 'fg-test-secret/with+chars=' };
const KEYS = ['plain.txt', 'a b.txt', 'a+b', 'ünïcödé/€uro', '100%', 'x//y', 'dir/ spaces +plus%pct//ü', "q!*'()[]~$&,;=:@"];

interface Seen { method: string; url: string; body?: Buffer; meta?: Record<string, string> }
const seen: Seen[] = [];
let endpoint = '';
let close: () => Promise<void>;

before(async () => {
  ({ endpoint, close } = await startAuthServer((id) => (id === creds.accessKeyId ? creds.secretAccessKey : undefined), async (req, res, auth) => {
    const body = await readAll(req);
    if (/^[0-9a-f]{64}$/.test(auth.payloadHash)) {
      assert.equal(createHash('sha256').update(body).digest('hex'), auth.payloadHash, 'the signed payload hash is the body hash');
    }
    const meta: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) {
      if (k.startsWith('x-amz-meta-')) meta[k.slice(11)] = Buffer.from(String(v), 'latin1').toString('utf8');
    }
    seen.push({ method: req.method!, url: req.url!, body, meta });
    if (req.url!.includes('list-type=2')) {
      const xml = '<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>bkt</Name><KeyCount>0</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated></ListBucketResult>';
      res.writeHead(200, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(xml) }).end(xml);
      return;
    }
    const out = req.method === 'GET' ? Buffer.from('hello') : Buffer.alloc(0);
    res.writeHead(200, { etag: '"0"', 'content-length': out.length }).end(out);
  }));
});
after(() => close());

function client(secret = creds.secretAccessKey): S3Client {
  return new S3Client({
    endpoint, forcePathStyle: true, region: 'us-east-1', maxAttempts: 1,
    credentials: { accessKeyId: creds.accessKeyId, secretAccessKey: secret },
  });
}

test('GetObject, PutObject (string body) and ListObjectsV2 from the AWS SDK verify, for awkward keys', async () => {
  const s3 = client();
  for (const Key of KEYS) {
    const got = await s3.send(new GetObjectCommand({ Bucket: 'bkt', Key }));
    assert.equal(await got.Body!.transformToString(), 'hello');
    await s3.send(new PutObjectCommand({ Bucket: 'bkt', Key, Body: `body of ${Key}` }));
    assert.equal(seen.at(-1)!.body!.toString(), `body of ${Key}`);
    await s3.send(new ListObjectsV2Command({ Bucket: 'bkt', Prefix: Key, Delimiter: '/', StartAfter: `${Key} +%` }));
  }
  assert.equal(seen.filter((s) => s.method === 'PUT').length, KEYS.length);
  s3.destroy();
});

test('non-ASCII x-amz-meta values verify and arrive as UTF-8', async () => {
  const s3 = client();
  // The SDK sends metadata as UTF-8 bytes; Node hands them over as latin1 chars.
  const Metadata = { note: 'héllo wörld à', plain: 'two   spaces ' };
  await s3.send(new PutObjectCommand({ Bucket: 'bkt', Key: 'meta', Body: 'x', Metadata }));
  assert.equal(seen.at(-1)!.meta!.note, 'héllo wörld à');
  s3.destroy();
});

test('a wrong secret is rejected with SignatureDoesNotMatch, parsed by the SDK', async () => {
  const s3 = client('not-the-secret');
  await assert.rejects(s3.send(new GetObjectCommand({ Bucket: 'bkt', Key: 'a b.txt' })), (e: Error & { $metadata?: { httpStatusCode?: number } }) => {
    assert.equal(e.name, 'SignatureDoesNotMatch');
    assert.equal(e.$metadata?.httpStatusCode, 403);
    return true;
  });
  s3.destroy();
});

test('presigned GET and PUT URLs from @aws-sdk/s3-request-presigner work with fetch', async () => {
  const s3 = client();
  for (const Key of KEYS) {
    const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: 'bkt', Key }), { expiresIn: 60 });
    const r = await fetch(url);
    assert.equal(r.status, 200, await r.clone().text());
    assert.equal(await r.text(), 'hello');
  }
  const put = await getSignedUrl(s3, new PutObjectCommand({ Bucket: 'bkt', Key: 'up load+1' }), { expiresIn: 60 });
  const r = await fetch(put, { method: 'PUT', body: 'uploaded' });
  assert.equal(r.status, 200, await r.text());
  assert.equal(seen.at(-1)!.body!.toString(), 'uploaded');
  // Tampering with the URL breaks it.
  const get = await getSignedUrl(s3, new GetObjectCommand({ Bucket: 'bkt', Key: 'plain.txt' }), { expiresIn: 60 });
  const bad = await fetch(get.replace('plain.txt', 'other.txt'));
  assert.equal(bad.status, 403);
  assert.match(await bad.text(), /<Code>SignatureDoesNotMatch<\/Code>/);
  s3.destroy();
});
