// Fault: latency before the first response byte. Resolves early (false) if the client goes away,
// so a slow fault never keeps a dead request alive.
import type { ServerResponse } from 'node:http';

export function delay(res: ServerResponse, ms: number): Promise<boolean> {
  if (ms <= 0) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => { res.off('close', gone); resolve(true); }, ms);
    const gone = () => { clearTimeout(timer); resolve(false); };
    res.once('close', gone);
  });
}
