// shallow, the equality the React hooks offer for selectors that build
// objects; the hooks themselves run in a real browser (test/browser).
import { describe, expect, it } from "vitest";
import { shallow } from "../src/react.js";

describe("shallow", () => {
  it("compares objects and arrays one level deep", () => {
    const item = { id: 1 };
    expect(shallow({ a: 1, b: item }, { a: 1, b: item })).toBe(true);
    expect(shallow({ a: 1, b: item }, { a: 1, b: { id: 1 } })).toBe(false);
    expect(shallow({ a: 1 }, { a: 1, b: undefined })).toBe(false);
    expect(shallow({ a: undefined }, { b: undefined })).toBe(false);
    expect(shallow([item, 2], [item, 2])).toBe(true);
    expect(shallow([1, 2], [1, 2, 3])).toBe(false);
    expect(shallow([1], { 0: 1 })).toBe(false);
    expect(shallow(NaN, NaN)).toBe(true);
    expect(shallow(null, {})).toBe(false);
    expect(shallow(undefined, undefined)).toBe(true);
  });
});
