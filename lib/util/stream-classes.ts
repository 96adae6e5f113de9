/**
 * The stream base classes come from `readable-stream` (the user's choice: the
 * same behaviour on every Node version). With `READABLE_STREAM=disable` in the
 * environment, readable-stream hands out Node core's own classes instead; CI
 * runs the whole suite both ways because users' pipelines mix the two.
 *
 * Typed as Node's classes (see readable-stream.d.ts): readable-stream 4 mirrors
 * Node's API, and typing it so lets our streams be passed to `node:stream`
 * functions without casts. The annotations keep `readable-stream`, which has no
 * types of its own, out of the declarations we ship.
 */
import type * as NodeStream from 'node:stream';
import {
  Writable as WritableImpl,
  Transform as TransformImpl,
  Duplex as DuplexImpl,
  Readable as ReadableImpl,
  PassThrough as PassThroughImpl,
  pipeline as pipelineImpl,
  finished as finishedImpl,
} from 'readable-stream';

export const Writable: typeof NodeStream.Writable = WritableImpl;
export const Transform: typeof NodeStream.Transform = TransformImpl;
export const Duplex: typeof NodeStream.Duplex = DuplexImpl;
export const Readable: typeof NodeStream.Readable = ReadableImpl;
export const PassThrough: typeof NodeStream.PassThrough = PassThroughImpl;
export const pipeline: typeof NodeStream.pipeline = pipelineImpl;
export const finished: typeof NodeStream.finished = finishedImpl;
