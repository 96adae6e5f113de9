/** Local servers for the tests that need a real peer: 127.0.0.1 only, on a port the OS picks. */
import type { Server as HttpServer } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Server } from 'node:net';

/** Listens on 127.0.0.1, on a free port; resolves with that port. */
export async function listenLocal(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

/** Closes `server` and the keep-alive connections it still holds; resolves once it is closed. */
export async function closeServer(server: HttpServer): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/** A port that was free a moment ago and that nothing listens on now: for "connection refused". */
export async function deadPort(): Promise<number> {
  const server = createNetServer();
  const port = await listenLocal(server);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
