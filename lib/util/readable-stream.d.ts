/**
 * readable-stream ships no types. It mirrors node:stream's API (and with `READABLE_STREAM=disable`
 * hands out Node core's own classes), so this declares the part we use with Node's types. Only the
 * library's source and tests see it: the shipped declarations name `node:stream` (stream-classes.ts
 * annotates its exports so), never this module.
 */
declare module 'readable-stream' {
  export { Duplex, PassThrough, Readable, Transform, Writable, finished, pipeline } from 'node:stream';
}
