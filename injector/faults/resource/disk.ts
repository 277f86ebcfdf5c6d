// Resource fault: fill a directory. Writes files into <path>/.floodgate-fill-<id>/ until `bytes`
// are written or the filesystem's free space is down to `freePercent`, never more than the cap.
// Data is fsynced so the blocks are really allocated. Revert removes the directory; so does an
// abort while the fill is still being written. `path` is already resolved (caps.confineDiskPath),
// and the fill directory must be new, so neither a symlink nor a planted directory redirects it.
import { mkdirSync, realpathSync, rmSync } from 'node:fs';
import { open, rm, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import type { Running } from './types.ts';
import { CapError } from './caps.ts';
import { FILL_PREFIX } from './state.ts';

const FILE = 64 * 1024 * 1024;
const BLOCK = 1024 * 1024;

export async function diskTarget(path: string, spec: { bytes?: number; freePercent?: number }, cap: number): Promise<number> {
  if (spec.bytes !== undefined) return Math.min(spec.bytes, cap);
  const s = await statfs(path);
  const total = s.blocks * s.bsize;
  const free = s.bavail * s.bsize;
  const want = Math.max(0, free - Math.ceil((total * spec.freePercent!) / 100));
  if (want > cap) throw new CapError(`freePercent: reaching ${spec.freePercent}% free needs ${want} bytes, over the disk cap of ${cap} (--max-disk)`);
  return want;
}

export const fillDir = (path: string, id: string) => join(path, `${FILL_PREFIX}${id}`);

export async function startDisk(path: string, id: string, bytes: number, signal?: AbortSignal): Promise<Running> {
  const dir = fillDir(path, id);
  mkdirSync(dir, { mode: 0o700 });
  const block = Buffer.alloc(BLOCK, 0x46);
  let written = 0;
  let stopped = false;
  try {
    if (realpathSync(dir) !== dir) throw new Error(`${dir} moved while it was created`);
    for (let i = 0; written < bytes && !stopped; i++) {
      const fh = await open(join(dir, `fill-${i}`), 'wx');
      try {
        let inFile = 0;
        while (inFile < FILE && written < bytes && !stopped) {
          if (signal?.aborted) throw new Error('aborted: the injector is stopping');
          const n = Math.min(BLOCK, bytes - written);
          await fh.write(block, 0, n);
          inFile += n;
          written += n;
        }
        await fh.sync();
      } finally {
        await fh.close();
      }
    }
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`disk fill in ${path} failed after ${written} bytes: ${(e as Error).message}`, { cause: e });
  }
  return {
    status: () => ({ dir, writtenBytes: written }),
    async stop() { stopped = true; await rm(dir, { recursive: true, force: true }); },
    stopSync() { rmSync(dir, { recursive: true, force: true }); },
  };
}
