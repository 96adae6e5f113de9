/**
 * Credentials must never reach a log line, an error message or `description`.
 * These helpers are the only way sinks turn a target into text.
 */

/** `scheme://user:pass@host/path?query` → `scheme://***@host/path?***` (origin and path kept, secrets not). */
export function redactUrl(url: URL): string {
  const auth = url.username !== '' || url.password !== '' ? '***@' : '';
  // Query strings carry API keys as often as userinfo does (?api_key=…): keep only that there was one.
  const query = url.search !== '' ? '?***' : '';
  return `${url.protocol}//${auth}${url.host}${url.pathname}${query}`;
}

// `scheme://userinfo@` anywhere in free text (an exec command line such as `curl https://u:p@host`).
const USERINFO_IN_TEXT = /([a-z][a-z0-9+.-]*:\/\/)[^\s/@]+@/gi;
// The query string of a URL in free text: from `?` up to whitespace, a quote or a fragment.
const QUERY_IN_TEXT = /([a-z][a-z0-9+.-]*:\/\/[^\s?#'"]*)\?[^\s#'"]*/gi;

/** Replaces `scheme://userinfo@` by `scheme://***@`, and a URL's `?query` by `?***`, in free text. */
export function redactCredentialsInText(text: string): string {
  return text.replace(USERINFO_IN_TEXT, '$1***@').replace(QUERY_IN_TEXT, '$1?***');
}

/**
 * Values shorter than this are not scrubbed from free text as literals: replacing "a" everywhere
 * would garble messages, and such values are not secrets. (`name=value` pairs are scrubbed whatever
 * the length of the value: see `scrubQueryParams`.)
 */
export const MIN_SCRUB_LENGTH = 4;

/**
 * The values of `url`'s query string, as written and decoded, that are long enough to scrub as
 * literals from text a server sends back (it may quote the key alone: "invalid key abcd1234").
 */
export function queryValues(url: URL): string[] {
  const values: string[] = [];
  for (const part of url.search.slice(1).split('&')) {
    const eq = part.indexOf('=');
    if (eq === -1) continue;
    const raw = part.slice(eq + 1);
    values.push(raw, safeDecode(raw.replace(/\+/g, ' ')));
  }
  return values.filter((v, i) => v.length >= MIN_SCRUB_LENGTH && values.indexOf(v) === i);
}

/**
 * Replaces `name=value` by `name=***` in `text` for every parameter name of `url`'s query string,
 * however the value is encoded there: a server that echoes the request line or the URL in an error
 * body must not put the API key into a log or a dead-letter file.
 */
export function scrubQueryParams(text: string, url: URL): string {
  let out = text;
  for (const name of queryNames(url)) {
    // The name as written or encoded, then `=` (or its encoding) and the value up to a delimiter.
    const pattern = new RegExp(`(${escapeRegExp(name)}(?:=|%3D))[^&\\s"'<>#]*`, 'gi');
    out = out.replace(pattern, '$1***');
  }
  return out;
}

function queryNames(url: URL): string[] {
  const names = new Set<string>();
  for (const part of url.search.slice(1).split('&')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const raw = part.slice(0, eq);
    names.add(raw);
    names.add(safeDecode(raw));
  }
  return [...names].filter((n) => n !== '');
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
