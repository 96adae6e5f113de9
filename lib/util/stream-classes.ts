/**
 * The stream base classes come from `readable-stream` (the user's choice: the
 * same behaviour on every Node version). With `READABLE_STREAM=disable` in the
 * environment, readable-stream hands out Node core's own classes instead; CI
 * runs the whole suite both ways because users' pipelines mix the two.
 *
 * Typed as Node's classes: readable-stream 4 mirrors Node's API, and typing it
 * so lets our streams be passed to `node:stream` functions without casts.
 */
import type * as NodeStream from 'node:stream';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const implementation = require('readable-stream') as typeof NodeStream;

export const Writable = implementation.Writable;
export const Transform = implementation.Transform;
export const Duplex = implementation.Duplex;
export const Readable = implementation.Readable;
export const PassThrough = implementation.PassThrough;
export const pipeline = implementation.pipeline;
export const finished = implementation.finished;
