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

/** Replaces `scheme://userinfo@` in free text by `scheme://***@`. */
export function redactCredentialsInText(text: string): string {
  return text.replace(USERINFO_IN_TEXT, '$1***@');
}
