// Resource fault: flood a host:port over TCP at a bounded rate and connection count. Bytes are
// metered in 50 ms ticks across the connections and skipped while a socket is backed up, so the
// rate is a ceiling, never exceeded. A dropped connection is re-dialled after a second.
import { connect, type Socket } from 'node:net';
import type { Running } from './types.ts';

const TICK = 50;

export async function startNetwork(target: string, bytesPerSecond: number, connections: number): Promise<Running> {
  const i = target.lastIndexOf(':');
  const host = target.slice(0, i).replace(/^\[|\]$/g, '');
  const port = Number(target.slice(i + 1));
  const perTick = Math.max(1, Math.floor((bytesPerSecond * TICK) / 1000));
  const payload = Buffer.alloc(Math.min(perTick, 1024 * 1024), 0x4e);
  const sockets = new Set<Socket>();
  let sent = 0;
  let stopped = false;
  let failures = 0;

  const dial = () => {
    if (stopped) return;
    const s = connect({ host, port });
    s.setNoDelay(true);
    s.on('error', () => { failures++; });
    s.on('close', () => { sockets.delete(s); if (!stopped) setTimeout(dial, 1000).unref(); });
    s.on('connect', () => sockets.add(s));
    s.on('data', () => {}); // drain anything the target says
  };
  for (let k = 0; k < connections; k++) dial();

  const started = performance.now();
  const timer = setInterval(() => {
    // Send what the budget allows since the start, so a slow tick catches up without bursting past the rate.
    let budget = Math.floor(((performance.now() - started) / 1000) * bytesPerSecond) - sent;
    const ready = [...sockets].filter((s) => s.writable && s.writableLength === 0);
    for (let k = 0; budget > 0 && ready.length > 0; k++) {
      const s = ready[k % ready.length]!;
      const n = Math.min(budget, payload.length);
      s.write(payload.subarray(0, n));
      sent += n;
      budget -= n;
      if (s.writableLength > 0) ready.splice(k % ready.length, 1);
    }
  }, TICK);
  timer.unref();

  const stopSync = () => {
    stopped = true;
    clearInterval(timer);
    for (const s of sockets) s.destroy();
    sockets.clear();
  };
  return {
    status: () => ({ target, sentBytes: sent, openConnections: sockets.size, failedDials: failures }),
    async stop() { stopSync(); },
    stopSync,
  };
}
