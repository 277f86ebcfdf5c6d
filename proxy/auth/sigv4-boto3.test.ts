// The verifier against botocore's signer (a different canonicalisation code base from the JS
// SDK): boto3 from tools/pydeps.sh (installed by `make testdeps`) over a real socket.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { readAll, startAuthServer } from './test-server.fixture.ts';

const PYTHON = join(process.env.FLOODGATE_CACHE ?? join(homedir(), '.cache', 'floodgate'), 'pyenv', 'bin', 'python');
const creds = { accessKeyId: 'FGBOTOKEY', secretAccessKey: 'boto/secret+key=' };
const bodies = new Map<string, string>();
let endpoint = '';
let close: () => Promise<void>;

before(async () => {
  ({ endpoint, close } = await startAuthServer((id) => (id === creds.accessKeyId ? creds.secretAccessKey : undefined), async (req, res, auth) => {
    const body = await readAll(req);
    if (/^[0-9a-f]{64}$/.test(auth.payloadHash)) assert.equal(createHash('sha256').update(body).digest('hex'), auth.payloadHash);
    if (req.method === 'PUT') bodies.set(req.url!.split('?')[0]!, body.toString());
    // botocore turns an unparsable 200 into a 500, so a listing gets a real (empty) document.
    const out = req.url!.includes('list-type=2')
      ? Buffer.from('<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>bkt</Name><KeyCount>0</KeyCount><IsTruncated>false</IsTruncated></ListBucketResult>')
      : Buffer.from(req.method === 'GET' ? 'hello' : '');
    res.writeHead(200, { etag: '"0"', 'content-length': out.length }).end(out);
  }));
});
after(() => close());

const SCRIPT = `
import boto3, json, sys, urllib.request
from botocore.config import Config
ep, ak, sk = sys.argv[1:4]
def client(secret):
    return boto3.client('s3', endpoint_url=ep, aws_access_key_id=ak, aws_secret_access_key=secret, region_name='eu-central-1',
                        config=Config(s3={'addressing_style': 'path'}, retries={'max_attempts': 1}))
s3 = client(sk)
out = {}
for k in json.loads(sys.argv[4]):
    s3.put_object(Bucket='bkt', Key=k, Body=('body of ' + k).encode())
    got = s3.get_object(Bucket='bkt', Key=k)['Body'].read().decode()
    s3.list_objects_v2(Bucket='bkt', Prefix=k, Delimiter='/')
    url = s3.generate_presigned_url('get_object', Params={'Bucket': 'bkt', 'Key': k}, ExpiresIn=60)
    out[k] = [got, urllib.request.urlopen(url).read().decode()]
try:
    client('wrong').get_object(Bucket='bkt', Key='x')
    out['wrong'] = 'accepted'
except Exception as e:
    out['wrong'] = e.response['Error']['Code']
print(json.dumps(out))
`;

test('boto3: put/get/list and presigned GET verify for awkward keys; a wrong secret is refused', async () => {
  const keys = ['plain', 'a b', 'a+b', 'ünï/€', '100%', 'x//y', "q!*'()~$&,;=:@"];
  const { stdout } = await promisify(execFile)(PYTHON, ['-c', SCRIPT, endpoint, creds.accessKeyId, creds.secretAccessKey, JSON.stringify(keys)], { timeout: 60_000 });
  const out = JSON.parse(stdout) as Record<string, unknown>;
  for (const k of keys) assert.deepEqual(out[k], ['hello', 'hello'], k);
  assert.equal(out.wrong, 'SignatureDoesNotMatch');
  assert.equal(bodies.size, keys.length);
  assert.ok([...bodies.values()].every((b) => b.startsWith('body of ')));
});
