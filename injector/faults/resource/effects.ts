// Starts and reverts resource faults for the registry, within the caps. Every running effect is
// also reverted synchronously on process exit, so a crash of the injector's own loop, SIGTERM or
// a normal exit never leaves a paused process or a filled disk behind.
import type { Activation } from '../activation.ts';
import { parseSize } from '../model.ts';
import type { Effects } from '../registry.ts';
import { CapError, checkCaps, type Caps } from './caps.ts';
import { startCpu } from './cpu.ts';
import { diskTarget, startDisk } from './disk.ts';
import { startMemory } from './memory.ts';
import { startNetwork } from './network.ts';
import { startProcess } from './process.ts';
import type { Running } from './types.ts';

export interface ResourceEffects extends Effects {
  status(id: string): Record<string, unknown> | undefined;
  stopAllSync(): void;
}

export function createResourceEffects(caps: Caps): ResourceEffects {
  const running = new Map<string, Running>();

  async function launch(a: Activation): Promise<Running | undefined> {
    const s = a.spec;
    switch (s.kind) {
      case 'cpu': return startCpu(s.cores);
      case 'memory': return startMemory(parseSize(s.bytes));
      case 'disk': {
        const bytes = await diskTarget(s.path, { bytes: s.bytes !== undefined ? parseSize(s.bytes) : undefined, freePercent: s.freePercent }, caps.maxDiskBytes);
        return startDisk(s.path, a.id, bytes);
      }
      case 'network': return startNetwork(s.target, parseSize(s.bytesPerSecond), s.connections);
      case 'process': return startProcess(s.name, s.action);
      default: return undefined;
    }
  }

  return {
    async start(a) {
      const over = checkCaps(a.spec, caps);
      if (over) throw new CapError(over);
      const r = await launch(a);
      if (r) running.set(a.id, r);
    },
    async stop(a) {
      const r = running.get(a.id);
      running.delete(a.id);
      try {
        await r?.stop();
      } catch {
        r?.stopSync();
      }
    },
    status: (id) => running.get(id)?.status(),
    stopAllSync() {
      for (const r of running.values()) { try { r.stopSync(); } catch { /* keep reverting the rest */ } }
      running.clear();
    },
  };
}
