import type { RedisStreamEntry } from './source-options';

/**
 * Turns the raw replies of XREADGROUP, XAUTOCLAIM and XPENDING (RESP2 arrays, read as Buffers) into
 * entries. Field values stay Buffers until the source decides how to hand them out, so record
 * bytes are never re-encoded on their way through.
 */

/** How entries are built from a reply: values as Buffers or UTF-8 strings, and which field is the record. */
export interface EntryShape {
  buffers: boolean;
  field: string;
}

/** One entry as read (values as the shape says). */
export type RawEntry = RedisStreamEntry<string | Buffer>;

/** An entry of the consumer's own pending list whose stream entry no longer exists (XDEL, MAXLEN trimming). */
export interface DeletedEntry {
  id: string;
}

function text(value: unknown): string {
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  if (typeof value === 'string') return value;
  return String(value);
}

function bytes(value: unknown): Buffer {
  if (Buffer.isBuffer(value)) return value;
  return Buffer.from(typeof value === 'string' ? value : String(value), 'utf8');
}

/**
 * `[id, [f1, v1, f2, v2, …]]` — built straight into the entry handed out, in one pass (the hot path
 * of reading) — or, for a pending entry deleted from the stream, `[id, null]`.
 */
function entryOf(raw: unknown, shape: EntryShape, deleted: DeletedEntry[], out: RawEntry[]): void {
  if (!Array.isArray(raw) || raw.length < 2) return;
  const id = text(raw[0]);
  const list = raw[1];
  if (!Array.isArray(list)) {
    deleted.push({ id });
    return;
  }
  const fields: Record<string, string | Buffer> = {};
  let record: string | Buffer | undefined;
  for (let i = 0; i + 1 < list.length; i += 2) {
    const name = text(list[i]);
    const value = shape.buffers ? bytes(list[i + 1]) : text(list[i + 1]);
    fields[name] = value;
    if (name === shape.field) record = value;
  }
  out.push({ id, fields, record });
}

/**
 * XREADGROUP: `[[stream, [entry…]]]`, or null when BLOCK timed out (or was unblocked). One stream is
 * read. `lastId` is the last id of the reply (entries and deleted ones alike), where a read of the
 * pending list goes on from.
 */
export function parseReadGroupReply(
  reply: unknown,
  shape: EntryShape,
): {
  entries: RawEntry[];
  deleted: DeletedEntry[];
  lastId: string | undefined;
} {
  const entries: RawEntry[] = [];
  const deleted: DeletedEntry[] = [];
  let lastId: string | undefined;
  for (const list of entryListsOf(reply)) {
    for (let i = 0; i < list.length; i++) entryOf(list[i], shape, deleted, entries);
    const last = list[list.length - 1];
    if (Array.isArray(last) && last.length > 0) lastId = text(last[0]);
  }
  return { entries, deleted, lastId };
}

/**
 * The entry lists of an XREADGROUP reply, whatever shape the client gives it: RESP2's
 * `[[stream, entries], …]`; RESP3's map, which ioredis (6, RESP3 by default) flattens to
 * `[stream, entries, …]` or — with `replyMapping: 'resp3'` — hands out as an object; or a `Map`.
 */
function entryListsOf(reply: unknown): unknown[][] {
  const lists: unknown[][] = [];
  const add = (value: unknown): void => {
    if (Array.isArray(value)) lists.push(value as unknown[]);
  };
  if (reply instanceof Map) {
    for (const value of reply.values()) add(value);
  } else if (Array.isArray(reply)) {
    if (reply.length > 0 && Array.isArray(reply[0])) for (const pair of reply) add((pair as unknown[])[1]);
    else for (let i = 1; i < reply.length; i += 2) add(reply[i]);
  } else if (reply !== null && typeof reply === 'object' && !Buffer.isBuffer(reply)) {
    for (const value of Object.values(reply)) add(value);
  }
  return lists;
}

/**
 * XAUTOCLAIM (Redis ≥ 7): `[nextCursor, [entry…], [deletedId…]]`. Deleted ids were already removed
 * from the pending list by Redis; they are reported, not acknowledged again.
 */
export function parseAutoClaimReply(
  reply: unknown,
  shape: EntryShape,
): { cursor: string; entries: RawEntry[]; deleted: DeletedEntry[] } {
  const entries: RawEntry[] = [];
  const deleted: DeletedEntry[] = [];
  if (!Array.isArray(reply)) return { cursor: '0-0', entries, deleted };
  const cursor = text(reply[0]);
  if (Array.isArray(reply[1])) for (const raw of reply[1] as unknown[]) entryOf(raw, shape, deleted, entries);
  if (Array.isArray(reply[2])) for (const id of reply[2] as unknown[]) deleted.push({ id: text(id) });
  return { cursor, entries, deleted };
}

/**
 * XPENDING's extended form for one id: `[[id, consumer, idleMs, deliveries]]`, or `[]` when the id is
 * no longer pending (acknowledged meanwhile by the consumer it was taken from). Undefined then.
 */
export function parsePendingCount(reply: unknown): number | undefined {
  if (!Array.isArray(reply) || reply.length === 0) return undefined;
  const row = reply[0] as unknown;
  if (!Array.isArray(row) || row.length < 4) return undefined;
  const count = Number(text(row[3]));
  return Number.isFinite(count) ? count : undefined;
}
