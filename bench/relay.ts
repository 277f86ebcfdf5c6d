// The relay floor of the peer benchmark: TCP bytes piped socket to socket with `net`, no HTTP, no
// parsing. A gateway cannot move a body for less than this process spends, so its CPU per GiB is
// the kernel-copy floor the gateways are measured against. Usage: node bench/relay.ts <upstream-port>;
// prints {"port":N} once it listens on 127.0.0.1.
import { connect, createServer, type AddressInfo } from 'node:net';

const upstream = Number(process.argv[2]);
// noDelay on both sides, as HTTP servers and clients set it: with Nagle on, a small response waits
// for the delayed ACK (~40 ms) and the floor would be slower than the gateways it bounds.
const server = createServer({ noDelay: true }, (client) => {
  const up = connect({ port: upstream, host: '127.0.0.1', noDelay: true });
  const close = () => { client.destroy(); up.destroy(); };
  for (const s of [client, up]) s.on('error', close).on('close', close);
  client.pipe(up);
  up.pipe(client);
});
server.listen(0, '127.0.0.1', () => process.stdout.write(JSON.stringify({ port: (server.address() as AddressInfo).port }) + '\n'));
process.on('SIGTERM', () => process.exit(0));
