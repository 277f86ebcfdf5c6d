// Serialises writes to one key within this process: an overwrite, a delete and a completing
// multipart upload of the same key never interleave their backend write and index commit, so
// the index always describes the bytes the backend kept. (Across replicas, the index's own
// per-key transaction lock orders the commits.)

export interface KeyLock {
  run<T>(key: string, fn: () => Promise<T>): Promise<T>;
  readonly size: number;
}

export function createKeyLock(): KeyLock {
  const tails = new Map<string, Promise<unknown>>();
  return {
    async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
      const prev = tails.get(key) ?? Promise.resolve();
      const mine = prev.then(fn, fn);
      const tail = mine.catch(() => {});
      tails.set(key, tail);
      try {
        return await mine;
      } finally {
        if (tails.get(key) === tail) tails.delete(key);
      }
    },
    get size() { return tails.size; },
  };
}
