// Starts and reverts resource faults for the registry, within the caps — per fault and for all
// active faults together (three 100Mi memory faults under a 256Mi cap: the third is refused).
// What would outlive the process (fill directories, paused pids) is written to the state file
// before it happens and removed after it is undone. Every running effect, and a disk fill still
// being written, is also reverted synchronously on process exit.
import type { Activation } from '../activation.ts';
import { parseSize } from '../model.ts';
import type { Effects } from '../registry.ts';
import { CapError, checkAggregate, checkCaps, confineDiskPath, usageOf, type Caps, type Usage } from './caps.ts';
import { startCpu } from './cpu.ts';
import { diskTarget, fillDir, startDisk } from './disk.ts';
import { startMemory } from './memory.ts';
import { startNetwork } from './network.ts';
import { startProcess } from './process.ts';
import { openStateFile, type StateFile } from './state.ts';
import type { Running } from './types.ts';
import { rmSync } from 'node:fs';

export interface ResourceEffects extends Effects {
  status(id: string): Record<string, unknown> | undefined;
  stopAllSync(): void;
}

export function createResourceEffects(caps: Caps, state: StateFile = openStateFile(undefined)): ResourceEffects {
  const running = new Map<string, Running>();
  /** What each started or starting fault takes of the capped resources, by activation id. */
  const usage = new Map<string, Usage>();
  /** Fill directories being written (not yet in `running`), for the exit-time revert. */
  const filling = new Map<string, string>();

  /** Checks and takes the amount in one synchronous step, so concurrent injects cannot both fit. */
  function reserve(id: string, u: Usage): void {
    if (usage.has(id)) throw new CapError(`id: fault ${id} already holds resources`);
    const over = checkAggregate(u, usage.values(), caps);
    if (over) throw new CapError(over);
    usage.set(id, u);
  }

  async function launch(a: Activation, signal?: AbortSignal): Promise<Running | undefined> {
    const s = a.spec;
    switch (s.kind) {
      case 'cpu': return startCpu(s.cores);
      case 'memory': return startMemory(parseSize(s.bytes), signal);
      case 'disk': {
        const c = confineDiskPath(s.path, caps);
        if ('error' in c) throw new CapError(c.error);
        const bytes = await diskTarget(c.real, { bytes: s.bytes !== undefined ? parseSize(s.bytes) : undefined, freePercent: s.freePercent }, caps.maxDiskBytes);
        usage.delete(a.id);
        reserve(a.id, { disk: bytes });
        const dir = fillDir(c.real, a.id);
        state.set({ id: a.id, kind: 'disk', dir });
        filling.set(a.id, dir);
        try {
          return await startDisk(c.real, a.id, bytes, signal);
        } catch (e) {
          state.delete(a.id);
          throw e;
        } finally {
          filling.delete(a.id);
        }
      }
      case 'network': return startNetwork(s.target, parseSize(s.bytesPerSecond), s.connections);
      case 'process': return startProcess(s.name, s.action, (pids) => state.set({ id: a.id, kind: 'pause', pids }));
      default: return undefined;
    }
  }

  return {
    async start(a, signal) {
      const over = checkCaps(a.spec, caps);
      if (over) throw new CapError(over);
      reserve(a.id, usageOf(a.spec));
      try {
        const r = await launch(a, signal);
        if (r) running.set(a.id, r);
        else usage.delete(a.id);
      } catch (e) {
        usage.delete(a.id);
        throw e;
      }
    },
    async stop(a) {
      const r = running.get(a.id);
      running.delete(a.id);
      try {
        await r?.stop();
      } catch {
        r?.stopSync();
      }
      usage.delete(a.id);
      state.delete(a.id);
    },
    status: (id) => running.get(id)?.status(),
    stopAllSync() {
      for (const dir of filling.values()) rmSync(dir, { recursive: true, force: true });
      for (const [id, r] of running) {
        try { r.stopSync(); state.delete(id); } catch { /* keep reverting the rest */ }
      }
      for (const id of filling.keys()) state.delete(id);
      running.clear();
      usage.clear();
    },
  };
}
