// Frame encoding beyond the golden vectors: epochs as 8 bytes of bin, and
// reading the envelope of a frame that cannot be decoded whole.
import { encode } from "@msgpack/msgpack";
import { describe, expect, it } from "vitest";
import { decodeFrame, encodeFrame, envelope } from "../src/protocol.js";

const bin = (...bytes: number[]): Uint8Array => Uint8Array.from(bytes);
const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

describe("epochs", () => {
  it("keep all 64 bits, which a number would not", () => {
    for (const e of ["ffffffffffffffff", "0000000000000000", "8000000000000001", "9e3779b97f4a7c15"]) {
      const bytes = encode({ t: 18, s: "S", e: Buffer.from(e, "hex"), v: 1, o: [] });
      const f = decodeFrame(bytes);
      expect(f).toEqual({ t: 18, s: "S", e, v: 1, o: [] });
      expect(hex(encodeFrame(f))).toBe(hex(bytes));
    }
  });

  it("go out as bin 8 in a resume", () => {
    const bytes = encodeFrame({ t: 1, s: "S", e: "0102030405060708", v: 2 });
    expect(hex(bytes)).toBe(hex(encode({ t: 1, s: "S", e: bin(1, 2, 3, 4, 5, 6, 7, 8), v: 2 })));
  });

  it("make a frame undecodable unless they are 8 bytes of bin", () => {
    for (const e of [7, 2 ** 40, "0000000000000007", null, bin(1, 2, 3, 4, 5, 6, 7), bin(1, 2, 3, 4, 5, 6, 7, 8, 9)]) {
      expect(() => decodeFrame(encode({ t: 17, s: "S", e, v: 0, d: {} })), String(e)).toThrow(/epoch/);
    }
  });
});

describe("envelope", () => {
  // {t:17, s:"Room:a", e, v:0, d:{"__proto__": 1}}, which @msgpack/msgpack refuses.
  const proto = Buffer.from("__proto__");
  const snap = Uint8Array.from([
    ...encode({ t: 17, s: "Room:a", e: new Uint8Array(8), v: 0 }).map((b, i) => (i === 0 ? 0x85 : b)),
    0xa1, 0x64, 0x81, 0xa0 | proto.length, ...proto, 1,
  ]);

  it("reads t and s of a frame the decoder refuses", () => {
    expect(() => decodeFrame(snap)).toThrow(/__proto__/);
    expect(envelope(snap)).toEqual({ t: 17, s: "Room:a" });
    expect(envelope(snap.buffer)).toEqual({ t: 17, s: "Room:a" });
  });

  it("leaves the bytes it is given alone", () => {
    const copy = snap.slice();
    envelope(copy);
    expect(copy).toEqual(snap);
  });

  it("yields nothing from bytes that are not a frame", () => {
    expect(envelope(bin())).toEqual({});
    expect(envelope(bin(0xc1))).toEqual({});
    expect(envelope(bin(0x81, 0xa1))).toEqual({});
  });
});
