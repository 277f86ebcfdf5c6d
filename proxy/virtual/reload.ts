// Reload triggers: SIGHUP, and changes to the config file. The directory is watched, not the
// file: editors replace files by rename, and Kubernetes updates a mounted ConfigMap by swapping
// a `..data` symlink, both of which a watch on the old file would miss. Events are debounced
// and a reload happens only when the content really changed; a bad file is logged and the
// running configuration stays.
import { watch, readFileSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { createHash } from 'node:crypto';
import type { LogFn } from './context.ts';

const hashOf = (path: string): string | undefined => {
  try {
    return createHash('sha256').update(readFileSync(path)).digest('hex');
  } catch {
    return undefined;
  }
};

export function watchConfig(path: string, reload: () => Promise<void>, log: LogFn, debounceMs = 250): () => void {
  let last = hashOf(path);
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();

  const apply = (why: string, force: boolean) => {
    running = running.then(async () => {
      const h = hashOf(path);
      if (!force && (h === undefined || h === last)) return;
      try {
        await reload();
        last = h;
      } catch (e) {
        log('error', 'configuration not reloaded; keeping the running one', { trigger: why, path, error: (e as Error).message });
      }
    });
  };

  const name = basename(path);
  const watcher = watch(dirname(path), (_event, file) => {
    if (file !== null && file !== name && file !== '..data') return;
    clearTimeout(timer);
    timer = setTimeout(() => apply('file change', false), debounceMs);
  });
  watcher.on('error', (e) => log('warn', 'config watch failed; SIGHUP still reloads', { error: e.message }));
  const onHup = () => apply('SIGHUP', true);
  process.on('SIGHUP', onHup);
  return () => {
    clearTimeout(timer);
    watcher.close();
    process.off('SIGHUP', onHup);
  };
}
