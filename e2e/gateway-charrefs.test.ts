// Request bodies as Go clients write them (encoding/xml escapes quotes as &#34; and &#39;), sent
// raw to the gateway: CompleteMultipartUpload with quoted ETags and DeleteObjects of keys with
// quotes both act on what the references stand for.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestGateway, type TestGateway } from './lib/gateway.ts';
import { errorCode, md5, objectPath, rawRequest, xmlField, type RawRequest } from './lib/raw-s3.ts';

let gw: TestGateway;
const send = (req: Omit<RawRequest, 'creds'>) => rawRequest(gw.url, { ...req, creds: gw.creds });

before(async () => {
  gw = await startTestGateway();
  assert.equal((await send({ method: 'PUT', path: '/go-xml' })).status, 200);
});
after(async () => { await gw?.close(); });

test('CompleteMultipartUpload with ETags written as &#34;…&#34; completes', async () => {
  const init = await send({ method: 'POST', path: objectPath('go-xml', 'big'), query: 'uploads=' });
  const uploadId = xmlField(init.body, 'UploadId')!;
  const part = await send({ method: 'PUT', path: objectPath('go-xml', 'big'), query: `partNumber=1&uploadId=${encodeURIComponent(uploadId)}`, body: 'hello' });
  assert.equal(part.status, 200);
  assert.equal(part.headers.etag, `"${md5('hello')}"`);
  const body = `<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Part><ETag>&#34;${md5('hello')}&#34;</ETag><PartNumber>1</PartNumber></Part></CompleteMultipartUpload>`;
  const done = await send({ method: 'POST', path: objectPath('go-xml', 'big'), query: `uploadId=${encodeURIComponent(uploadId)}`, body });
  assert.equal(done.status, 200, done.body.toString());
  assert.equal((await send({ method: 'GET', path: objectPath('go-xml', 'big') })).body.toString(), 'hello');
});

test('DeleteObjects of keys with quotes written as references deletes exactly those keys', async () => {
  const keys = [`it's`, `say "hi"`, `a&b`];
  for (const k of keys) assert.equal((await send({ method: 'PUT', path: objectPath('go-xml', k), body: k })).status, 200);
  const ref = (k: string) => k.replace(/&/g, '&amp;').replace(/'/g, '&#39;').replace(/"/g, '&#34;');
  const body = `<Delete>${keys.map((k) => `<Object><Key>${ref(k)}</Key></Object>`).join('')}</Delete>`;
  const res = await send({ method: 'POST', path: '/go-xml', query: 'delete=', body, headers: { 'content-md5': Buffer.from(md5(body), 'hex').toString('base64') } });
  assert.equal(res.status, 200, res.body.toString());
  assert.doesNotMatch(res.body.toString(), /<Error>/);
  for (const k of keys) assert.equal((await send({ method: 'HEAD', path: objectPath('go-xml', k) })).status, 404, k);
});

test('an entity XML does not define is MalformedXML, with a request id', async () => {
  const body = '<Delete><Object><Key>x&nbsp;</Key></Object></Delete>';
  const res = await send({ method: 'POST', path: '/go-xml', query: 'delete=', body, headers: { 'content-md5': Buffer.from(md5(body), 'hex').toString('base64') } });
  assert.equal(res.status, 400);
  assert.equal(errorCode(res.body), 'MalformedXML');
  assert.ok(xmlField(res.body, 'RequestId'));
});
