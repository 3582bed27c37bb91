// The frames of docs/PROTOCOL.md and their MessagePack encoding. Frames are
// plain objects whose keys are written in the order they were set, which is
// the order the protocol's table lists them.
import { decode, encode } from "@msgpack/msgpack";

/** A patch operation: [0, path, value] add, [1, path] remove, [2, path, value] replace. */
export type Op = readonly [0 | 2, string, unknown] | readonly [1, string];

/** The body of an `x` key: an error code and a message for people. */
export interface WireError {
  c: string;
  m: string;
}

export type SubFrame = { t: 1; s: string; e?: number; v?: number };
export type UnsubFrame = { t: 2; s: string };
export type RpcFrame = { t: 3; i: number; n: string; a?: unknown };
export type HelloFrame = { t: 16; p: number; c: string };
export type SnapFrame = { t: 17; s: string; e: number; v: number; d: unknown };
export type PatchFrame = { t: 18; s: string; e: number; v: number; o: Op[] };
export type ResFrame = { t: 19; i: number; r?: unknown; x?: WireError };
export type DelFrame = { t: 20; s: string };
export type EvtFrame = { t: 21; n: string; d: unknown };
export type ErrFrame = { t: 22; x: WireError; s?: string };

export type Frame =
  | SubFrame
  | UnsubFrame
  | RpcFrame
  | HelloFrame
  | SnapFrame
  | PatchFrame
  | ResFrame
  | DelFrame
  | EvtFrame
  | ErrFrame;

export const PROTOCOL_VERSION = 1;

/**
 * encodeFrame returns the MessagePack bytes of a frame. Integers take their
 * smallest form; object members whose value is undefined are left out, as
 * JSON.stringify leaves them out.
 */
export function encodeFrame(frame: Frame): Uint8Array {
  return encode(frame, { ignoreUndefined: true });
}

/**
 * decodeFrame reads one frame. Integers of any width arrive as numbers and
 * maps as plain objects. It throws on bytes that are not a MessagePack map
 * with a numeric `t`; keys it does not know are kept and ignored by callers.
 */
export function decodeFrame(bytes: ArrayBuffer | Uint8Array): Frame {
  const f = decode(bytes) as { t?: unknown } | null;
  if (typeof f !== "object" || f === null || Array.isArray(f) || typeof f.t !== "number") {
    throw new TypeError("hotstate: frame is not a map with a type");
  }
  return f as Frame;
}

export const subFrame = (s: string, e?: number, v?: number): SubFrame =>
  e === undefined || v === undefined ? { t: 1, s } : { t: 1, s, e, v };

export const unsubFrame = (s: string): UnsubFrame => ({ t: 2, s });

export const rpcFrame = (i: number, n: string, a?: unknown): RpcFrame =>
  a === undefined ? { t: 3, i, n } : { t: 3, i, n, a };
