// The protocol's golden vectors (core/testdata/protocol): each .msgpack
// file must decode to the value in its .json sibling and encode back to
// the same bytes.
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { decodeFrame, encodeFrame, type Frame } from "../src/protocol.js";

const dir = fileURLToPath(new URL("../../core/testdata/protocol/", import.meta.url));
const names = readdirSync(dir)
  .filter((f) => f.endsWith(".msgpack"))
  .map((f) => f.slice(0, -".msgpack".length))
  .sort();

describe("golden protocol vectors", () => {
  it("exist", () => {
    expect(names.length).toBeGreaterThan(0);
  });

  for (const name of names) {
    it(name, () => {
      const bytes = new Uint8Array(readFileSync(dir + name + ".msgpack"));
      const want = JSON.parse(readFileSync(dir + name + ".json", "utf8")) as Frame;
      expect(decodeFrame(bytes)).toEqual(want);
      expect(Buffer.from(encodeFrame(want)).toString("hex")).toBe(Buffer.from(bytes).toString("hex"));
    });
  }
});
