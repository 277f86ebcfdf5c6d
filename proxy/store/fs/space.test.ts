// The embedded store on a real, small filesystem (a tmpfs mounted for the test): a full disk is
// InsufficientStorage and unready, deletes still work from the reserve, and writes come back
// once space is freed. Also: owner-only files, and abandoned uploads expiring.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readdirSync, rmSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { S3Error } from '../../s3/errors.ts';
import type { PutInput } from '../types.ts';
import { openFsStore } from './index.ts';

const input = (b: Buffer): PutInput => ({ body: Readable.from([b]), size: b.length, headers: { userMeta: {} }, checksums: {} });

function tryMount(dir: string, size: string): boolean {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

test('a full disk: writes are InsufficientStorage and /readyz-unready, deletes still work, writes resume once space is freed', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fg-full-'));
  if (!tryMount(dir, '12m')) {
    rmSync(dir, { recursive: true, force: true });
    t.skip('cannot mount a tmpfs here (needs root)');
    return;
  }
  try {
    const store = await openFsStore(dir, { fsync: false, reserveBytes: 1024 * 1024 });
    await store.createBucket('b');
    assert.deepEqual(store.health(), { ok: true });
    const chunk = Buffer.alloc(1024 * 1024, 7);
    let stored = 0;
    let refusal: unknown;
    for (let i = 0; i < 40 && !refusal; i++) {
      try {
        await store.putObject('b', `k${i}`, input(chunk));
        stored++;
      } catch (e) {
        refusal = e;
      }
    }
    assert.ok(stored > 0 && refusal, `filled after ${stored} objects`);
    assert.ok(refusal instanceof S3Error && refusal.code === 'InsufficientStorage' && refusal.status === 507, String(refusal));
    const h = store.health();
    assert.equal(h.ok, false);
    assert.match(h.reason ?? '', /disk full/);
    // Something else takes the last bytes too (logs, another process): the disk is full to the block.
    const filler = openSync(join(dir, 'filler'), 'w');
    try {
      for (;;) writeSync(filler, Buffer.alloc(4096));
    } catch (e) {
      assert.equal((e as NodeJS.ErrnoException).code, 'ENOSPC');
    } finally {
      closeSync(filler);
    }
    // Space is freed through S3 deletes, however full the disk is.
    for (let i = 0; i < stored; i++) await store.deleteObject('b', `k${i}`);
    unlinkSync(join(dir, 'filler'));
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(store.health(), { ok: true });
    await store.putObject('b', 'after', input(chunk));
    await store.close();
  } finally {
    execFileSync('umount', ['-l', dir]);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the store directory, meta.db and blobs are owner-only', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fg-modes-'));
  try {
    const store = await openFsStore(dir, { fsync: false });
    await store.createBucket('b');
    await store.putObject('b', 'k', input(Buffer.from('secret')));
    const root = join(dir, '.floodgate', 'store');
    const mode = (p: string) => statSync(p).mode & 0o777;
    assert.equal(mode(join(dir, '.floodgate')), 0o700);
    assert.equal(mode(root), 0o700);
    assert.equal(mode(join(root, 'meta.db')), 0o600);
    const shard = readdirSync(join(root, 'blobs')).find((s) => readdirSync(join(root, 'blobs', s)).length > 0)!;
    assert.equal(mode(join(root, 'blobs', shard)), 0o700);
    assert.equal(mode(join(root, 'blobs', shard, readdirSync(join(root, 'blobs', shard))[0]!)), 0o600);
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('multipart uploads older than the configured age are aborted, with their parts', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fg-expire-'));
  try {
    const expired: string[] = [];
    const store = await openFsStore(dir, { fsync: false, uploadMaxAgeMs: 500, uploadSweepIntervalMs: 1000, onUploadExpired: (u) => expired.push(u.key) });
    await store.createBucket('b');
    const id = await store.createMultipartUpload('b', 'abandoned', { userMeta: {} });
    await store.uploadPart('b', 'abandoned', id, 1, input(Buffer.alloc(1000)));
    const deadline = Date.now() + 10_000;
    while (expired.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(expired, ['abandoned']);
    await assert.rejects(store.listParts('b', 'abandoned', id, 0, 10), (e) => e instanceof S3Error && e.code === 'NoSuchUpload');
    const fresh = await store.createMultipartUpload('b', 'fresh', { userMeta: {} });
    assert.equal(await store.expireUploads(new Date(Date.now() - 60_000)), 0);
    assert.equal((await store.listMultipartUploads('b', { prefix: '', keyMarker: '', uploadIdMarker: '', limit: 10 })).map((u) => u.uploadId).includes(fresh), true);
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
