// Per-backend usage as the balancer needs it: bytes committed in the index plus bytes of writes
// in flight (reserved when a backend is chosen, released when the write ends), so concurrent
// uploads cannot together overfill a backend that each alone would fit. Committed numbers are
// moved by this gateway's own commits and re-read from the index periodically, which picks up
// other replicas' writes when the index is shared.
import { usageDeltas, type BackendUsage, type PlacedObject, type PlacementIndex } from '../placement/types.ts';

export interface UsageTracker {
  /** Committed plus reserved bytes. */
  used(backend: string): number;
  committed(backend: string): BackendUsage;
  /** Reserves bytes on a backend; call the returned function once the write is over. */
  reserve(backend: string, bytes: number): () => void;
  /** Applies the effect of one committed change (a put replacing `prev`, or a delete of `prev`). */
  apply(prev: PlacedObject | undefined, next: PlacedObject | undefined): void;
  refresh(): Promise<void>;
}

export function createUsageTracker(index: PlacementIndex): UsageTracker {
  let committed = new Map<string, BackendUsage>();
  const reserved = new Map<string, number>();
  const bump = (backend: string, bytes: number, objects: number) => {
    const u = committed.get(backend) ?? { bytes: 0, objects: 0 };
    committed.set(backend, { bytes: u.bytes + bytes, objects: u.objects + objects });
  };
  let epoch = 0;
  return {
    used: (b) => (committed.get(b)?.bytes ?? 0) + (reserved.get(b) ?? 0),
    committed: (b) => committed.get(b) ?? { bytes: 0, objects: 0 },
    reserve(backend, bytes) {
      reserved.set(backend, (reserved.get(backend) ?? 0) + bytes);
      let done = false;
      return () => {
        if (done) return;
        done = true;
        const left = (reserved.get(backend) ?? 0) - bytes;
        if (left > 0) reserved.set(backend, left);
        else reserved.delete(backend);
      };
    },
    apply(prev, next) {
      epoch++;
      for (const [b, bytes, objects] of usageDeltas(prev, next)) bump(b, bytes, objects);
    },
    async refresh() {
      const before = epoch;
      const fresh = await index.usage();
      // A commit applied while reading may or may not be in `fresh`: keep ours until next time.
      if (epoch === before) committed = fresh;
    },
  };
}
