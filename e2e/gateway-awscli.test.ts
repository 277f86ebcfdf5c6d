// The AWS CLI (pinned in tools/pydeps.sh) against the gateway on its embedded store, configured
// only through files in a temp dir: high-level `aws s3` transfers (multipart above 8 MiB, nested
// dirs, keys with spaces and unicode, idempotent sync) and the low-level `aws s3api` calls.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { startTestGateway, tempDir, type TestGateway } from './lib/gateway.ts';
import { awsCli, isolatedAwsEnv, noPython, type RunOutput } from './lib/python.ts';

const MiB = 1024 * 1024;
const BUCKET = 'cli-bucket';
const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');

/** Local files (relative path → bytes) synced up and back. */
const TREE: Record<string, Buffer> = {
  'big.bin': randomBytes(9 * MiB + 5),
  'top.txt': Buffer.from('top level\n'),
  'empty.txt': Buffer.alloc(0),
  'nested/a/b/deep.txt': Buffer.from('deep\n'.repeat(100)),
  'nested/a/sibling.bin': randomBytes(70_000),
  'with space/file name.txt': Buffer.from('spaces\n'),
  'ünïcødé/ファイル 1.txt': Buffer.from('unicode\n'),
};

function writeTree(root: string): void {
  for (const [rel, data] of Object.entries(TREE)) {
    mkdirSync(dirname(join(root, rel)), { recursive: true });
    writeFileSync(join(root, rel), data);
  }
}

describe('AWS CLI against the gateway', { skip: noPython }, () => {
  let gw: TestGateway;
  let dir: string;
  let aws: (...args: string[]) => Promise<RunOutput>;
  const json = async (...args: string[]) => JSON.parse((await aws(...args)).stdout || 'null');

  before(async () => {
    gw = await startTestGateway();
    dir = tempDir('floodgate-awscli-');
    aws = awsCli(gw.url, isolatedAwsEnv(dir, gw.creds));
    writeTree(join(dir, 'up'));
    await aws('s3', 'mb', `s3://${BUCKET}`);
  });
  after(async () => {
    await gw?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('s3 cp of a 9 MiB file goes multipart (8 MiB parts) and comes back byte-identical', async () => {
    await aws('s3', 'cp', join(dir, 'up', 'big.bin'), `s3://${BUCKET}/single/big.bin`);
    const head = await json('s3api', 'head-object', '--bucket', BUCKET, '--key', 'single/big.bin');
    assert.equal(head.ContentLength, 9 * MiB + 5);
    const big = TREE['big.bin']!;
    const partMd5s = Buffer.concat([big.subarray(0, 8 * MiB), big.subarray(8 * MiB)].map((p) => createHash('md5').update(p).digest()));
    assert.equal(head.ETag, `"${md5(partMd5s)}-2"`);
    await aws('s3', 'cp', `s3://${BUCKET}/single/big.bin`, join(dir, 'big.back'));
    assert.ok(readFileSync(join(dir, 'big.back')).equals(big));
  });

  test('s3 sync up, ls, sync again uploads nothing, sync down is byte-identical', async () => {
    const first = await aws('s3', 'sync', '--no-progress', join(dir, 'up'), `s3://${BUCKET}/tree/`);
    assert.equal(first.stdout.split(/[\r\n]+/).filter((l) => l.startsWith('upload:')).length, Object.keys(TREE).length, first.stdout);

    const ls = await aws('s3', 'ls', '--recursive', `s3://${BUCKET}/tree/`);
    const listed = ls.stdout.trim().split('\n').map((l) => l.replace(/^\S+\s+\S+\s+\d+\s/, ''));
    assert.deepEqual(listed.sort(), Object.keys(TREE).map((k) => `tree/${k}`).sort());
    const top = await aws('s3', 'ls', `s3://${BUCKET}/tree/`);
    assert.match(top.stdout, /PRE nested\//);
    assert.match(top.stdout, /PRE with space\//);
    assert.match(top.stdout, /PRE ünïcødé\//);
    assert.match(top.stdout, /\s10 top\.txt/);

    const second = await aws('s3', 'sync', '--no-progress', join(dir, 'up'), `s3://${BUCKET}/tree/`);
    assert.equal(second.stdout.trim(), '', 'second sync uploads nothing');

    await aws('s3', 'sync', `s3://${BUCKET}/tree/`, join(dir, 'down'));
    for (const [rel, data] of Object.entries(TREE)) assert.ok(readFileSync(join(dir, 'down', rel)).equals(data), rel);
    const unicode = await aws('s3', 'cp', `s3://${BUCKET}/tree/ünïcødé/ファイル 1.txt`, '-');
    assert.equal(unicode.stdout, 'unicode\n');
  });

  test('s3api: list-objects-v2, head-object, copy-object', async () => {
    await aws('s3', 'cp', join(dir, 'up', 'top.txt'), `s3://${BUCKET}/api/src.txt`, '--content-type', 'text/plain', '--metadata', 'team=storage');
    const list = await json('s3api', 'list-objects-v2', '--bucket', BUCKET, '--prefix', 'api/');
    assert.deepEqual(list.Contents.map((o: { Key: string }) => o.Key), ['api/src.txt']);
    assert.equal(list.Contents[0].Size, 10);
    assert.equal(list.Contents[0].ETag, `"${md5(TREE['top.txt']!)}"`);
    const delimited = await json('s3api', 'list-objects-v2', '--bucket', BUCKET, '--prefix', 'tree/nested/', '--delimiter', '/');
    assert.deepEqual(delimited.CommonPrefixes, [{ Prefix: 'tree/nested/a/' }]);

    const head = await json('s3api', 'head-object', '--bucket', BUCKET, '--key', 'api/src.txt');
    assert.equal(head.ContentType, 'text/plain');
    assert.deepEqual(head.Metadata, { team: 'storage' });
    assert.equal(head.ContentLength, 10);

    const copy = await json('s3api', 'copy-object', '--bucket', BUCKET, '--key', 'api/dst.txt', '--copy-source', `${BUCKET}/api/src.txt`);
    assert.equal(copy.CopyObjectResult.ETag, head.ETag);
    const copied = await json('s3api', 'head-object', '--bucket', BUCKET, '--key', 'api/dst.txt');
    assert.deepEqual(copied.Metadata, { team: 'storage' });

    const missing = await aws('s3api', 'head-object', '--bucket', BUCKET, '--key', 'api/none').then(() => undefined, (e: Error) => e);
    assert.match(String(missing?.message), /404|Not Found/);
  });

  test('s3api multipart: create, upload-part, list-multipart-uploads, complete; a second one aborted', async () => {
    const part1 = randomBytes(5 * MiB);
    const part2 = randomBytes(1234);
    writeFileSync(join(dir, 'part1'), part1);
    writeFileSync(join(dir, 'part2'), part2);
    const key = 'api/multi part.bin';
    const { UploadId } = await json('s3api', 'create-multipart-upload', '--bucket', BUCKET, '--key', key, '--content-type', 'application/x-test');
    const e1 = await json('s3api', 'upload-part', '--bucket', BUCKET, '--key', key, '--upload-id', UploadId, '--part-number', '1', '--body', join(dir, 'part1'));
    const e2 = await json('s3api', 'upload-part', '--bucket', BUCKET, '--key', key, '--upload-id', UploadId, '--part-number', '2', '--body', join(dir, 'part2'));
    assert.equal(e1.ETag, `"${md5(part1)}"`);
    const uploads = await json('s3api', 'list-multipart-uploads', '--bucket', BUCKET);
    assert.deepEqual(uploads.Uploads.map((u: { Key: string; UploadId: string }) => [u.Key, u.UploadId]), [[key, UploadId]]);
    const parts = await json('s3api', 'list-parts', '--bucket', BUCKET, '--key', key, '--upload-id', UploadId);
    assert.deepEqual(parts.Parts.map((p: { PartNumber: number; Size: number }) => [p.PartNumber, p.Size]), [[1, 5 * MiB], [2, 1234]]);

    writeFileSync(join(dir, 'parts.json'), JSON.stringify({ Parts: [{ PartNumber: 1, ETag: e1.ETag }, { PartNumber: 2, ETag: e2.ETag }] }));
    const done = await json('s3api', 'complete-multipart-upload', '--bucket', BUCKET, '--key', key, '--upload-id', UploadId,
      '--multipart-upload', `file://${join(dir, 'parts.json')}`);
    const expected = md5(Buffer.concat([part1, part2].map((p) => createHash('md5').update(p).digest())));
    assert.equal(done.ETag, `"${expected}-2"`);
    const head = await json('s3api', 'head-object', '--bucket', BUCKET, '--key', key);
    assert.equal(head.ContentLength, 5 * MiB + 1234);
    assert.equal(head.ContentType, 'application/x-test');
    await aws('s3api', 'get-object', '--bucket', BUCKET, '--key', key, join(dir, 'multi.back'));
    assert.ok(readFileSync(join(dir, 'multi.back')).equals(Buffer.concat([part1, part2])));

    const other = await json('s3api', 'create-multipart-upload', '--bucket', BUCKET, '--key', 'api/aborted.bin');
    await aws('s3api', 'upload-part', '--bucket', BUCKET, '--key', 'api/aborted.bin', '--upload-id', other.UploadId, '--part-number', '1', '--body', join(dir, 'part2'));
    await aws('s3api', 'abort-multipart-upload', '--bucket', BUCKET, '--key', 'api/aborted.bin', '--upload-id', other.UploadId);
    const after = await json('s3api', 'list-multipart-uploads', '--bucket', BUCKET);
    assert.deepEqual(after?.Uploads ?? [], []);
    const gone = await aws('s3api', 'head-object', '--bucket', BUCKET, '--key', 'api/aborted.bin').then(() => undefined, (e: Error) => e);
    assert.ok(gone, 'an aborted upload leaves no object');
  });

  test('s3 rm --recursive empties a prefix, and rb removes the emptied bucket', async () => {
    const rm = await aws('s3', 'rm', '--recursive', `s3://${BUCKET}/tree/`);
    assert.equal(rm.stdout.split(/[\r\n]+/).filter((l) => l.startsWith('delete:')).length, Object.keys(TREE).length);
    assert.equal((await aws('s3', 'ls', '--recursive', `s3://${BUCKET}/tree/`).catch((e: RunOutput) => e)).stdout ?? '', '');
    await aws('s3', 'rm', '--recursive', `s3://${BUCKET}/`);
    await aws('s3', 'rb', `s3://${BUCKET}`);
    const buckets = await json('s3api', 'list-buckets');
    assert.deepEqual(buckets.Buckets, []);
  });
});
