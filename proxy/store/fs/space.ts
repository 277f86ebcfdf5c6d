// Disk space for the embedded store. A full disk must not lock the user out: deleting is how
// space comes back, and a delete needs a little space itself (the metadata journal), so a
// reserve file is kept and given up for a delete that fails for want of space. A full disk is
// the S3 error for it (InsufficientStorage, 507, not a retryable InternalError) and shows on
// /readyz with any other reason the store cannot write.
import { closeSync, fsyncSync, openSync, statfsSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { S3Error } from '../../s3/errors.ts';

export interface StoreHealth {
  ok: boolean;
  reason?: string;
}

export interface SpaceGuard {
  /** Runs a write; a full disk becomes InsufficientStorage (and marks the store full). */
  write<T>(fn: () => Promise<T>): Promise<T>;
  /** Runs a delete; on a full disk it gives up the reserve and tries once more. */
  free<T>(fn: () => Promise<T>): Promise<T>;
  health(): StoreHealth;
}

/** ENOSPC/EDQUOT from the filesystem, SQLITE_FULL from the metadata database, anywhere in the cause chain. */
export function isDiskFull(e: unknown): boolean {
  for (let c: unknown = e, depth = 0; c && depth < 5; c = (c as { cause?: unknown }).cause, depth++) {
    const x = c as { code?: unknown; errcode?: unknown; message?: unknown };
    if (x.code === 'ENOSPC' || x.code === 'EDQUOT' || x.errcode === 13 || /database or disk is full|no space left/i.test(String(x.message ?? ''))) return true;
  }
  return false;
}

export function storageFull(cause?: unknown): S3Error {
  return new S3Error('InsufficientStorage', undefined, { cause });
}

const CHUNK = Buffer.alloc(64 * 1024);

export function openSpaceGuard(root: string, reserveBytes: number): SpaceGuard {
  const reserve = join(root, 'reserve');
  const probe = join(root, 'probe');
  let reserved = false;
  let fullSince: number | undefined;
  let cached: { at: number; health: StoreHealth } | undefined;

  function makeReserve(): void {
    if (reserved || reserveBytes <= 0) return;
    let fd: number | undefined;
    try {
      fd = openSync(reserve, 'w', 0o600);
      for (let n = 0; n < reserveBytes; n += CHUNK.length) writeSync(fd, CHUNK, 0, Math.min(CHUNK.length, reserveBytes - n));
      fsyncSync(fd);
      reserved = true;
    } catch {
      // No room for it yet: tried again after the next delete.
      try { unlinkSync(reserve); } catch { /* never made */ }
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  }

  function release(): boolean {
    if (!reserved) return false;
    try { unlinkSync(reserve); } catch { /* gone already */ }
    reserved = false;
    return true;
  }

  makeReserve();

  return {
    async write(fn) {
      try {
        const r = await fn();
        fullSince = undefined;
        return r;
      } catch (e) {
        if (!isDiskFull(e)) throw e;
        fullSince ??= Date.now();
        cached = undefined;
        throw storageFull(e);
      }
    },
    async free(fn) {
      let r;
      try {
        r = await fn();
      } catch (e) {
        if (!isDiskFull(e) || !release()) throw isDiskFull(e) ? storageFull(e) : e;
        r = await fn().catch((again: unknown) => { throw isDiskFull(again) ? storageFull(again) : again; });
      }
      // Blobs are unlinked just after the commit: take the reserve back once they are gone.
      if (!reserved) setTimeout(makeReserve, 100).unref();
      cached = undefined;
      return r;
    },
    health() {
      const now = Date.now();
      if (cached && now - cached.at < 1000) return cached.health;
      let health: StoreHealth = { ok: true };
      try {
        writeFileSync(probe, 'ok', { mode: 0o600 });
        unlinkSync(probe);
        const s = statfsSync(root);
        const free = s.bavail * s.bsize;
        if (fullSince !== undefined && free > 1024 * 1024) fullSince = undefined;
        if (fullSince !== undefined || free < 64 * 1024) health = { ok: false, reason: 'disk full: delete objects to free space' };
      } catch (e) {
        health = { ok: false, reason: isDiskFull(e) ? 'disk full: delete objects to free space' : `cannot write the store: ${(e as Error).message}` };
      }
      cached = { at: now, health };
      return health;
    },
  };
}
