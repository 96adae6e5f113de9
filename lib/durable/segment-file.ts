/**
 * Segment files: `<first sequence number, 20 digits>.seg`, each a run of
 * frames (see record-frame.ts) with consecutive sequence numbers starting at
 * the one in its name. The name is the only metadata a segment has: the writer's
 * position is never stored anywhere else, it is whatever the last segment holds,
 * so a position record can never disagree with the data it describes.
 */
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';

const NAME = /^(\d{20})\.seg$/;

export function segmentFileName(firstSeq: number): string {
  return `${String(firstSeq).padStart(20, '0')}.seg`;
}

export function parseSegmentFileName(name: string): number | undefined {
  const match = NAME.exec(name);
  if (match === null) return undefined;
  const seq = Number(match[1]);
  return Number.isSafeInteger(seq) ? seq : undefined;
}

export interface SegmentOnDisk {
  firstSeq: number;
  path: string;
  bytes: number;
}

/** The segment files in `dir`, oldest first, with their sizes. Other files are ignored. */
export async function listSegments(dir: string): Promise<SegmentOnDisk[]> {
  const found: SegmentOnDisk[] = [];
  for (const name of await fsp.readdir(dir)) {
    const firstSeq = parseSegmentFileName(name);
    if (firstSeq === undefined) continue;
    const path = join(dir, name);
    const stat = await fsp.stat(path);
    if (stat.isFile()) found.push({ firstSeq, path, bytes: stat.size });
  }
  return found.sort((a, b) => a.firstSeq - b.firstSeq);
}

/**
 * fsync of the directory itself: without it a file created (or renamed) just
 * before a power loss may be missing from the directory afterwards, even though
 * its own data was synced.
 */
export async function syncDirectory(dir: string): Promise<void> {
  const handle = await fsp.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
