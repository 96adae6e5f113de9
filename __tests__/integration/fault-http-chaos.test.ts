/**
 * Fault injection, scenario 1: the built CLI under `--strategy block` posting to a
 * real local HTTP server that misbehaves — 503 and 429 (Retry-After 0 or 1),
 * connections reset before and after the server processed the batch, requests
 * that hang until the server cuts them, and the whole server dying for 500 ms and
 * coming back on the same port. With enough `--retries`, every line must be
 * delivered, nothing dead-lettered, and an id may reach the server twice only
 * when the server processed a request whose answer the client never got.
 *
 * Hangs here end when the server cuts the connection (100–300 ms later) or dies.
 * A request that hangs forever is `--flush-timeout`'s job, tested in
 * cli-flush-timeout.test.ts.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { join } from 'node:path';
import { expectBalanced, runCli, seqsOf, statsOf, tempDir } from '../helpers/cli';
import { account, faultSeed, inputLine, logRun, mulberry32, range, readDeadLetters } from '../helpers/faults';

const LINES = 2000;
const BATCH = 100;
/** How long the server stays down when it "dies". */
const DOWN_MS = 500;

const Faults = {
  /** 2xx: the batch is processed and acknowledged. */
  OK: 'ok',
  /** 503 (sometimes with Retry-After: 0): not processed. */
  UNAVAILABLE: '503',
  /** 429 with Retry-After 0 or 1: not processed. */
  RATE_LIMITED: '429',
  /** Connection destroyed before processing. */
  RESET: 'reset',
  /** Processed, then the connection destroyed: the client sees a failure and must send it again. */
  COMMIT_RESET: 'commit-reset',
  /** Never answered; the server cuts the connection 100–300 ms later. */
  HANG: 'hang',
  /** Processed, never answered, cut later. */
  COMMIT_HANG: 'commit-hang',
  /** Processed, then the whole server goes down for DOWN_MS (all connections destroyed). */
  COMMIT_DIE: 'commit-die',
} as const;
type Fault = (typeof Faults)[keyof typeof Faults];

/**
 * The first requests exercise every fault once, so that no seed can skip one; the rest are random.
 * Each scripted fault is followed by a success, so that they hit different batches: one batch
 * failing seven times in a row would wait out seven growing backoffs.
 */
const SCRIPT: ReadonlyMap<number, Fault> = new Map<number, Fault>([
  [2, Faults.UNAVAILABLE],
  [4, Faults.RATE_LIMITED], // with Retry-After: 1
  [6, Faults.RESET],
  [8, Faults.COMMIT_RESET],
  [10, Faults.HANG],
  [12, Faults.COMMIT_HANG],
  [14, Faults.COMMIT_DIE],
]);
/** Requests right after a scripted fault: the retry goes through. */
const SCRIPTED_LAST = 14;

interface Commit {
  request: number;
  ids: number[];
  /** The client may not have seen the acknowledgement, so it may send these ids again. */
  unacknowledged: boolean;
  /** The server certainly never acknowledged it (it cut the connection instead): the client must send these ids again. */
  certainlyFailed: boolean;
}

/** A node:http server that fails ~30% of requests in the ways above, from a seeded PRNG. */
class ChaosServer {
  readonly commits: Commit[] = [];
  readonly faults = new Map<Fault, number>();
  requests = 0;
  downs = 0;
  port = 0;
  readonly #random: () => number;
  #server: Server | undefined;
  readonly #sockets = new Set<Socket>();
  readonly #lastCommit = new WeakMap<Socket, Commit>();
  readonly #timers = new Set<NodeJS.Timeout>();
  #closed = false;

  constructor(seed: number) {
    this.#random = mulberry32(seed);
  }

  async listen(port = 0): Promise<void> {
    const server = createServer((req, res) => this.#onRequest(req, res));
    server.keepAliveTimeout = 60_000;
    server.on('connection', (socket: Socket) => {
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.#server = server;
    this.port = (server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const timer of this.#timers) clearTimeout(timer);
    await this.#stop();
  }

  #later(ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      fn();
    }, ms);
    this.#timers.add(timer);
  }

  async #stop(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (server === undefined) return;
    // Whatever was last processed on a connection we now cut may not have been acknowledged yet.
    for (const socket of this.#sockets) {
      const last = this.#lastCommit.get(socket);
      if (last !== undefined) last.unacknowledged = true;
    }
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    for (const socket of this.#sockets) socket.destroy();
    await closed;
  }

  /** Goes down (refusing connections) for DOWN_MS, then listens again on the same port. */
  #die(): void {
    this.downs++;
    void this.#stop().then(() => this.#later(DOWN_MS, this.#revive));
  }

  readonly #revive = (): void => {
    if (this.#closed) return;
    // The port was just released; should the OS refuse it for a moment, try again shortly.
    this.listen(this.port).catch(() => this.#later(50, this.#revive));
  };

  #pick(n: number): Fault {
    const scripted = SCRIPT.get(n);
    if (scripted !== undefined) return scripted;
    if (n <= SCRIPTED_LAST) return Faults.OK;
    const r = this.#random();
    if (r < 0.07) return Faults.UNAVAILABLE;
    if (r < 0.14) return Faults.RATE_LIMITED;
    if (r < 0.19) return Faults.RESET;
    if (r < 0.23) return Faults.COMMIT_RESET;
    if (r < 0.27) return Faults.HANG;
    if (r < 0.3) return Faults.COMMIT_HANG;
    return Faults.OK;
  }

  #commit(socket: Socket, request: number, ids: number[], certainlyFailed: boolean): void {
    const commit: Commit = { request, ids, unacknowledged: certainlyFailed, certainlyFailed };
    this.commits.push(commit);
    this.#lastCommit.set(socket, commit);
  }

  #onRequest(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const n = ++this.requests;
      const ids = seqsOf(Buffer.concat(chunks).toString('utf8'));
      const fault = this.#pick(n);
      this.faults.set(fault, (this.faults.get(fault) ?? 0) + 1);
      const socket = req.socket;
      const hangMs = 100 + Math.floor(this.#random() * 200);
      switch (fault) {
        case Faults.OK:
          this.#later(Math.floor(this.#random() * 3), () => {
            if (res.destroyed || socket.destroyed) return; // cut by a death in between: not processed
            res.writeHead(200).end();
            this.#commit(socket, n, ids, false);
          });
          return;
        case Faults.UNAVAILABLE:
          res.writeHead(503, this.#random() < 0.5 ? { 'retry-after': '0' } : {}).end('busy');
          return;
        case Faults.RATE_LIMITED:
          res.writeHead(429, { 'retry-after': n === 4 ? '1' : '0' }).end();
          return;
        case Faults.RESET:
          socket.destroy();
          return;
        case Faults.COMMIT_RESET:
          this.#commit(socket, n, ids, true);
          socket.destroy();
          return;
        case Faults.HANG:
          this.#later(hangMs, () => socket.destroy());
          return;
        case Faults.COMMIT_HANG:
          this.#commit(socket, n, ids, true);
          this.#later(hangMs, () => socket.destroy());
          return;
        case Faults.COMMIT_DIE:
          this.#commit(socket, n, ids, true);
          this.#die();
          return;
      }
    });
  }
}

describe('fault injection: --sink http:// against a flaky, hanging, dying server', () => {
  test('every line is delivered (duplicates only after an unacknowledged request), nothing dead-lettered, exit 0', async () => {
    const seed = faultSeed();
    const server = new ChaosServer(seed);
    await server.listen();
    const { dir, cleanup } = tempDir('bp-fault-http-');
    try {
      const dlq = join(dir, 'dead.ndjson');
      let input = '';
      for (let i = 0; i < LINES; i++) input += inputLine(i);
      const url = `http://127.0.0.1:${server.port}/ingest`;
      const args = ['--strategy', 'block', '--max-buffer', '300', '--batch-size', String(BATCH), '--retries', '12'];
      const r = await runCli([...args, '--sink', url, '--dead-letter', dlq, '--stats'], input);
      const stats = statsOf(r.stderr);
      const delivered = server.commits.flatMap((c) => c.ids);
      const dead = readDeadLetters(dlq);
      const report = account({
        read: stats.read,
        total: LINES,
        delivered,
        deadLettered: [...dead.undeliverable, ...dead.invalid, ...dead.truncated],
      });
      logRun('http-chaos', {
        seed,
        exit: r.code,
        requests: server.requests,
        faults: Object.fromEntries(server.faults),
        downs: server.downs,
        delivered: report.delivered,
        duplicateIds: report.duplicates.size,
        deadLettered: report.deadLettered,
        unread: report.unread,
        retried: stats.retried,
      });
      const why = `seed ${seed} (replay with FAULT_SEED=${seed}); stderr:\n${r.stderr}`;

      // Every fault really happened (scripted), including the server going down and coming back.
      const unseen = [...SCRIPT.values()].filter((fault) => (server.faults.get(fault) ?? 0) === 0);
      expect(unseen).toEqual([]);
      expect(server.downs).toBe(1);

      expect({ exit: r.code, why }).toEqual({ exit: 0, why });
      expectBalanced(stats);
      expect(stats).toMatchObject({
        read: LINES,
        valid: LINES,
        invalid: 0,
        flushed: LINES,
        dropped: 0,
        deadLettered: 0,
        lost: 0,
      });
      expect(stats.retried).toBeGreaterThan(0);
      expect(dead.undeliverable).toEqual([]);
      expect(dead.invalid).toEqual([]);

      // Every id: delivered, none missing, none unknown, none unread.
      expect(report.missing).toEqual([]);
      expect(report.unknown).toEqual([]);
      expect(report.unread).toBe(0);
      expect(report.delivered).toBe(LINES);

      // Duplicates: only ids of requests the server processed without the client seeing the answer,
      // at most once more per such request.
      const mayRepeat = new Map<number, number>();
      for (const commit of server.commits)
        if (commit.unacknowledged) for (const id of commit.ids) mayRepeat.set(id, (mayRepeat.get(id) ?? 0) + 1);
      const unexplained = [...report.duplicates].filter(([id, times]) => times > 1 + (mayRepeat.get(id) ?? 0));
      expect(unexplained).toEqual([]);
      // ...and at least once: a request the server cut after processing was seen as failed, so it was sent again.
      const notResent = server.commits
        .filter((c) => c.certainlyFailed)
        .flatMap((c) => c.ids)
        .filter((id) => !report.duplicates.has(id));
      expect(notResent).toEqual([]);

      // One batch at a time (concurrency 1): first deliveries arrive in input order.
      const firstSeen = new Set<number>();
      const order: number[] = [];
      for (const id of delivered) {
        if (firstSeen.has(id)) continue;
        firstSeen.add(id);
        order.push(id);
      }
      expect(order).toEqual(range(0, LINES));
    } finally {
      await server.close();
      cleanup();
    }
  });
});
