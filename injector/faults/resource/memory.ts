// Resource fault: hold `bytes` of memory. Buffers are filled so every page is touched and RSS
// really grows (a fresh allocation is only address space). On revert the buffers are dropped and
// a full GC runs so the memory goes back to the OS now, not whenever V8 next collects.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Running } from './types.ts';

const CHUNK = 8 * 1024 * 1024;

function fullGc(): void {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as (() => void) | undefined;
  gc?.();
}

export async function startMemory(bytes: number, signal?: AbortSignal): Promise<Running> {
  let held: Buffer[] = [];
  let total = 0;
  let stopped = false;
  while (total < bytes && !stopped) {
    if (signal?.aborted) { held = []; throw new Error('aborted: the injector is stopping'); }
    const n = Math.min(CHUNK, bytes - total);
    held.push(Buffer.allocUnsafeSlow(n).fill(0x5a));
    total += n;
    // Yield between chunks so a large fault does not freeze the proxy.
    await new Promise<void>((r) => setImmediate(r));
  }
  return {
    status: () => ({ heldBytes: total }),
    async stop() {
      stopped = true;
      held = [];
      total = 0;
      fullGc();
    },
    stopSync() { held = []; },
  };
}
