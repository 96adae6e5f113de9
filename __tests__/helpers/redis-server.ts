import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';

/**
 * A real redis-server for one test file: a free port on 127.0.0.1, a temp dir, persistence off
 * (`--save '' --appendonly no`) unless `appendOnly` asks for an AOF that survives a restart
 * (fsync on every write, so that nothing acknowledged is lost when the server is killed).
 */
export interface RedisServer {
  readonly port: number;
  readonly url: string;
  readonly dir: string;
  /** A new client (closed by `stop()`). */
  client(): Redis;
  /** Kills the server (SIGKILL by default) and waits for it to exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Kills the server and starts it again `downMs` later, on the same port and dir (with `appendOnly`, it reloads its data). */
  restart(downMs?: number): Promise<void>;
  /** Kills the server, closes the clients, removes the dir. For afterAll. */
  stop(): Promise<void>;
}

export interface RedisServerOptions {
  appendOnly?: boolean;
}

const READY_DEADLINE_MS = 20_000;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address !== null && typeof address === 'object') resolve(address.port);
        else reject(new Error('no port'));
      });
    });
  });
}

/** One PING over a raw socket: true on +PONG. */
function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: '127.0.0.1' });
    let reply = '';
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.on('error', () => done(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString();
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  const dir = mkdtempSync(join(tmpdir(), 'bp-redis-'));
  const clients: Redis[] = [];
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let port = 0;

  const args = (): string[] => [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--save',
    '',
    ...(options.appendOnly === true ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']),
    '--protected-mode',
    'no',
    '--loglevel',
    'warning',
  ];

  async function launch(): Promise<boolean> {
    const proc = spawn('redis-server', args(), { stdio: ['ignore', 'ignore', 'pipe'] });
    child = proc;
    let gone = false;
    exited = new Promise((resolve) => {
      proc.once('exit', () => {
        gone = true;
        resolve();
      });
      proc.once('error', () => {
        gone = true;
        resolve();
      });
    });
    const deadline = Date.now() + READY_DEADLINE_MS;
    while (Date.now() < deadline) {
      if (gone) return false;
      if (await ping(port)) return true;
      await sleep(50);
    }
    proc.kill('SIGKILL');
    throw new Error(`redis-server on port ${port} did not answer PING within ${READY_DEADLINE_MS} ms`);
  }

  // Another process may take the free port between our probe and redis-server's bind: try again.
  for (let attempt = 0; ; attempt++) {
    port = await freePort();
    if (await launch()) break;
    if (attempt >= 4) throw new Error('redis-server would not start (is it installed? see .ci/run)');
  }

  const kill = async (signal: NodeJS.Signals = 'SIGKILL'): Promise<void> => {
    if (child !== undefined && child.exitCode === null && child.signalCode === null) child.kill(signal);
    await exited;
  };

  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    client() {
      // disconnectTimeout: a socket to a killed server is not waited for past the test (2 s by default).
      const client = new Redis({
        port,
        host: '127.0.0.1',
        lazyConnect: false,
        maxRetriesPerRequest: null,
        disconnectTimeout: 100,
      });
      client.on('error', () => undefined);
      clients.push(client);
      return client;
    },
    kill,
    async restart(downMs = 0) {
      await kill();
      await sleep(downMs);
      if (!(await launch())) throw new Error(`redis-server did not restart on port ${port}`);
    },
    async stop() {
      for (const client of clients) client.disconnect();
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Appends `count` entries `{"seq":from+i}` (field `data`) in one server-side loop per 50k: a million
 * entries take seconds, not the minutes of a million round trips.
 */
export async function fillStream(redis: Redis, stream: string, count: number, from = 0): Promise<void> {
  const script =
    "for i = tonumber(ARGV[1]), tonumber(ARGV[2]) do redis.call('XADD', KEYS[1], '*', 'data', '{\"seq\":' .. i .. '}') end";
  const chunk = 50_000;
  for (let start = from; start < from + count; start += chunk) {
    const end = Math.min(start + chunk, from + count) - 1;
    await redis.eval(script, 1, stream, start, end);
  }
}

/** Entries pending in the group (read, not acknowledged), from XPENDING's summary form. */
export async function pendingCount(redis: Redis, stream: string, group: string): Promise<number> {
  const summary = (await redis.xpending(stream, group)) as [number, ...unknown[]];
  return Number(summary[0]);
}

/** Polls `condition` every 50 ms until it holds; throws with `what` after `timeoutMs`. */
export async function waitFor(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/**
 * The scenarios at full size (`npm run test:redis-scenarios`, REDIS_SCENARIOS=full), or at the
 * smaller size CI runs on every push (twice: both stream implementations): `full` when asked, `ci` else.
 */
export function scenarioSize<T>(sizes: { full: T; ci: T }): T {
  return process.env['REDIS_SCENARIOS'] === 'full' ? sizes.full : sizes.ci;
}
