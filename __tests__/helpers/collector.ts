import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * An HTTP sink for CLI tests on 127.0.0.1: takes NDJSON POSTs and records every `seq` it receives
 * (duplicates included), answering after `delayMs` — a slow sink — or never (`hang`), or with
 * `status` for every request. Settings can change while it runs.
 */
export interface Collector {
  readonly url: string;
  /** Every seq received, in arrival order. */
  readonly seqs: number[];
  delayMs: number;
  hang: boolean;
  status: number;
  close(): Promise<void>;
}

export async function startCollector(options: { delayMs?: number; hang?: boolean; status?: number } = {}) {
  const seqs: number[] = [];
  const hanging: ServerResponse[] = [];
  const collector: Collector = {
    url: '',
    seqs,
    delayMs: options.delayMs ?? 0,
    hang: options.hang ?? false,
    status: options.status ?? 200,
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of hanging) res.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (collector.hang) {
        hanging.push(res);
        return;
      }
      const answer = (): void => {
        if (collector.status >= 200 && collector.status < 300) {
          for (const line of Buffer.concat(chunks).toString('utf8').split('\n')) {
            if (line !== '') seqs.push((JSON.parse(line) as { seq: number }).seq);
          }
        }
        res.writeHead(collector.status).end();
      };
      if (collector.delayMs > 0) setTimeout(answer, collector.delayMs);
      else answer();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  (collector as { url: string }).url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/ingest`;
  return collector;
}
