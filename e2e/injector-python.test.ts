// boto3 and the AWS CLI through the sidecar: other SDKs' signing (botocore signs different
// headers than the JS SDK) and streaming must survive the pass-through, and an injected SlowDown
// must reach them as the S3 error botocore retries on.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { startHarness, type Harness } from '../injector/testing/harness.ts';
import { VENV_BIN as venv, noPython as missing } from './lib/python.ts';

const run = promisify(execFile);

const SCRIPT = `
import boto3, sys, json
from botocore.config import Config
endpoint, ak, sk, bucket = sys.argv[1:5]
s3 = boto3.client('s3', endpoint_url=endpoint, aws_access_key_id=ak, aws_secret_access_key=sk, region_name='us-east-1',
                  config=Config(s3={'addressing_style': 'path'}, retries={'mode': 'standard', 'max_attempts': 4}))
s3.create_bucket(Bucket=bucket)
body = bytes(range(256)) * 4096
s3.put_object(Bucket=bucket, Key='py/one', Body=body)
got = s3.get_object(Bucket=bucket, Key='py/one')
assert got['Body'].read() == body
up = s3.create_multipart_upload(Bucket=bucket, Key='py/mp')
p1 = s3.upload_part(Bucket=bucket, Key='py/mp', UploadId=up['UploadId'], PartNumber=1, Body=b'a' * (5 * 1024 * 1024))
p2 = s3.upload_part(Bucket=bucket, Key='py/mp', UploadId=up['UploadId'], PartNumber=2, Body=b'b' * 10)
s3.complete_multipart_upload(Bucket=bucket, Key='py/mp', UploadId=up['UploadId'],
  MultipartUpload={'Parts': [{'PartNumber': 1, 'ETag': p1['ETag']}, {'PartNumber': 2, 'ETag': p2['ETag']}]})
keys = [o['Key'] for o in s3.list_objects_v2(Bucket=bucket, Prefix='py/')['Contents']]
url = s3.generate_presigned_url('get_object', Params={'Bucket': bucket, 'Key': 'py/one'}, ExpiresIn=300)
r = s3.head_object(Bucket=bucket, Key='py/mp')
print(json.dumps({'keys': keys, 'size': r['ContentLength'], 'url': url}))
`;

describe('boto3 and the AWS CLI through the sidecar', { skip: missing }, () => {
  let h: Harness;
  let dir: string;
  const env = () => ({ ...process.env, AWS_ACCESS_KEY_ID: h.upstream.creds.accessKeyId, AWS_SECRET_ACCESS_KEY: h.upstream.creds.secretAccessKey, AWS_DEFAULT_REGION: 'us-east-1', AWS_EC2_METADATA_DISABLED: 'true' });
  before(async () => {
    h = await startHarness();
    dir = mkdtempSync(join(tmpdir(), 'floodgate-py-'));
  });
  after(async () => {
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('boto3: put, get, multipart, list, presign and head pass through', async () => {
    const script = join(dir, 'suite.py');
    writeFileSync(script, SCRIPT);
    const { stdout } = await run(join(venv, 'python'), [script, h.sidecar.url, h.upstream.creds.accessKeyId, h.upstream.creds.secretAccessKey, 'pybucket'], { env: env(), timeout: 120_000 });
    const out = JSON.parse(stdout) as { keys: string[]; size: number; url: string };
    assert.deepEqual(out.keys, ['py/mp', 'py/one']);
    assert.equal(out.size, 5 * 1024 * 1024 + 10);
    const r = await fetch(out.url);
    assert.equal(r.status, 200);
    assert.equal((await r.arrayBuffer()).byteLength, 256 * 4096);
  });

  test('AWS CLI: streamed cp both ways, and a SlowDown it retries through', async () => {
    const src = join(dir, 'src.bin');
    const back = join(dir, 'back.bin');
    const data = randomBytes(9 * 1024 * 1024 + 5);
    writeFileSync(src, data);
    const aws = (...args: string[]) => run(join(venv, 'aws'), ['--endpoint-url', h.sidecar.url, ...args], { env: env(), timeout: 120_000 });
    await aws('s3', 'mb', 's3://clibucket');
    await aws('s3', 'cp', src, 's3://clibucket/big.bin');
    await h.inject({ kind: 'error', code: 'SlowDown', status: 503, match: { operations: ['GetObject'] }, trigger: { firstN: 1 } });
    await aws('s3', 'cp', 's3://clibucket/big.bin', back);
    assert.ok(readFileSync(back).equals(data));
    const ledger = await h.api('GET', '/_floodgate/faults/ledger');
    assert.ok(ledger.body.entries.some((e: { decision: string }) => e.decision === 'fired'));
  });
});
