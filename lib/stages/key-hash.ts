/**
 * A stable 32-bit hash of `String(key)`: FNV-1a over the UTF-16 code units, then the murmur3
 * finalizer. FNV-1a alone leaves the low bits poorly mixed for keys that differ only in their last
 * character ("user-1", "user-2", …), and key sampling uses `hash % rate`, i.e. mostly the low bits.
 * Stable across processes and versions: the same key always gets the same hash.
 */
export function keyHash(key: unknown): number {
  const text = typeof key === 'string' ? key : String(key);
  let hash = 0x811c9dc5; // FNV-1a offset basis
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193); // FNV prime
  }
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return hash >>> 0;
}
