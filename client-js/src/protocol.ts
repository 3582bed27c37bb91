// The frames of docs/PROTOCOL.md and their MessagePack encoding. Frames are
// plain objects whose keys are written in the order they were set, which is
// the order the protocol's table lists them.
import { decode, decodeMulti, encode } from "@msgpack/msgpack";

/** A patch operation: [0, path, value] add, [1, path] remove, [2, path, value] replace. */
export type Op = readonly [0 | 2, string, unknown] | readonly [1, string];

/** The body of an `x` key: an error code and a message for people. */
export interface WireError {
  c: string;
  m: string;
}

export type SubFrame = { t: 1; s: string; e?: string; v?: number };
export type UnsubFrame = { t: 2; s: string };
export type RpcFrame = { t: 3; i: number; n: string; a?: unknown };
export type HelloFrame = { t: 16; p: number; c: string };
export type SnapFrame = { t: 17; s: string; e: string; v: number; d: unknown };
export type PatchFrame = { t: 18; s: string; e: string; v: number; o: Op[] };
export type ResFrame = { t: 19; i: number; r?: unknown; x?: WireError };
export type DelFrame = { t: 20; s: string };
export type EvtFrame = { t: 21; s?: string; n: string; d: unknown };
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
 * JSON.stringify leaves them out. An epoch, 16 hex digits here, goes out as
 * the 8 bytes they spell.
 */
export function encodeFrame(frame: Frame): Uint8Array {
  const e = (frame as { e?: string }).e;
  const out =
    e === undefined ? frame : { ...frame, e: Uint8Array.from({ length: 8 }, (_, i) => parseInt(e.slice(2 * i, 2 * i + 2), 16)) };
  return encode(out, { ignoreUndefined: true });
}

/**
 * decodeFrame reads one frame. Integers of any width arrive as numbers and
 * maps as plain objects; an epoch (8 bytes of bin) becomes 16 lowercase hex
 * digits, since as a number it would lose its low bits. It throws on bytes
 * that are not a MessagePack map with a numeric `t`, or whose epoch is not
 * 8 bytes; keys it does not know are kept and ignored by callers.
 */
export function decodeFrame(bytes: ArrayBuffer | Uint8Array): Frame {
  const f = decode(bytes) as { t?: unknown; e?: unknown } | null;
  if (typeof f !== "object" || f === null || Array.isArray(f) || typeof f.t !== "number") {
    throw new TypeError("hotstate: frame is not a map with a type");
  }
  if (f.e !== undefined) {
    if (!(f.e instanceof Uint8Array) || f.e.length !== 8) throw new TypeError("hotstate: epoch is not 8 bytes");
    f.e = Array.from(f.e, (b) => (b | 256).toString(16).slice(1)).join("");
  }
  return f as Frame;
}

/**
 * envelope reads `t` and `s` of a frame decodeFrame refused, so that the
 * store it was for can be told. The server writes those two keys first, so
 * the map is cut to them and the rest (a state holding a key no JavaScript
 * decoder accepts, say) is never read. Anything unreadable yields {}.
 */
export function envelope(bytes: ArrayBuffer | Uint8Array): { t?: unknown; s?: unknown } {
  const b = new Uint8Array(bytes).slice();
  if (b[0]! >> 4 === 8) b[0] = 0x82; // a fixmap: every frame the server writes is one
  try {
    return (decodeMulti(b).next().value ?? {}) as { t?: unknown; s?: unknown };
  } catch {
    return {};
  }
}

export const subFrame = (s: string, e?: string, v?: number): SubFrame =>
  e === undefined || v === undefined ? { t: 1, s } : { t: 1, s, e, v };

export const unsubFrame = (s: string): UnsubFrame => ({ t: 2, s });

export const rpcFrame = (i: number, n: string, a?: unknown): RpcFrame =>
  a === undefined ? { t: 3, i, n } : { t: 3, i, n, a };
