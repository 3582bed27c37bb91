import { describe, expect, it } from "vitest";
import { applyPatch, PatchError, parsePointer } from "../src/patch.js";
import type { Op } from "../src/protocol.js";

const deepFreeze = <T>(v: T): T => {
  if (typeof v === "object" && v !== null) {
    Object.freeze(v);
    for (const k of Object.keys(v)) deepFreeze((v as Record<string, unknown>)[k]);
  }
  return v;
};

// The cases of core/wire/apply_test.go, so the Go and TS appliers agree.
const cases: Array<[name: string, doc: string, ops: Op[], want: string]> = [
  ["A.1 add member", `{"foo":"bar"}`, [[0, "/baz", "qux"]], `{"baz":"qux","foo":"bar"}`],
  ["A.2 add element", `{"foo":["bar","baz"]}`, [[0, "/foo/1", "qux"]], `{"foo":["bar","qux","baz"]}`],
  ["A.3 remove member", `{"baz":"qux","foo":"bar"}`, [[1, "/baz"]], `{"foo":"bar"}`],
  ["A.4 remove element", `{"foo":["bar","qux","baz"]}`, [[1, "/foo/1"]], `{"foo":["bar","baz"]}`],
  ["A.5 replace", `{"baz":"qux","foo":"bar"}`, [[2, "/baz", "boo"]], `{"baz":"boo","foo":"bar"}`],
  ["A.10 add nested", `{"foo":"bar"}`, [[0, "/child", { grandchild: {} }]], `{"foo":"bar","child":{"grandchild":{}}}`],
  ["A.12 missing parent", `{"foo":"bar"}`, [[0, "/baz/bat", "qux"]], "error"],
  ["A.16 append", `{"foo":["bar"]}`, [[0, "/foo/-", ["abc", "def"]]], `{"foo":["bar",["abc","def"]]}`],
  ["add at len", `[1,2]`, [[0, "/2", 3]], `[1,2,3]`],
  ["add existing member replaces", `{"a":1}`, [[0, "/a", 2]], `{"a":2}`],
  ["add to null", `{"a":null}`, [[0, "/a/b", 2]], "error"],
  ["root replace", `{"a":1}`, [[2, "", []]], `[]`],
  ["root add", `1`, [[0, "", "x"]], `"x"`],
  ["escapes", `{"a/b":{"~":1}}`, [[2, "/a~1b/~0", 2]], `{"a/b":{"~":2}}`],
  ["escape order", `{"~1":1}`, [[2, "/~01", 2]], `{"~1":2}`],
  ["empty key", `{"":{"":1}}`, [[1, "//"]], `{"":{}}`],
  [
    "sequence",
    `{"l":[]}`,
    [
      [0, "/l/-", 1],
      [0, "/l/0", 0],
      [0, "/l/2", 2],
      [1, "/l/1"],
      [2, "/l/0", "z"],
      [0, "/m", {}],
      [0, "/m/k", true],
    ],
    `{"l":["z",2],"m":{"k":true}}`,
  ],
  ["remove root", `{}`, [[1, ""]], "error"],
  ["remove missing", `{"a":1}`, [[1, "/b"]], "error"],
  ["replace missing", `{"a":1}`, [[2, "/b", 1]], "error"],
  ["replace at len", `[1]`, [[2, "/1", 1]], "error"],
  ["replace dash", `[1]`, [[2, "/-", 1]], "error"],
  ["remove dash", `[1]`, [[1, "/-"]], "error"],
  ["add past len", `[1]`, [[0, "/2", 1]], "error"],
  ["leading zero", `[1,2]`, [[2, "/01", 1]], "error"],
  ["negative index", `[1,2]`, [[2, "/-1", 1]], "error"],
  ["huge index", `[1,2]`, [[0, "/99999999999999999999", 1]], "error"],
  ["index into object is a key", `{"0":1}`, [[2, "/0", 2]], `{"0":2}`],
  ["walk through scalar", `{"a":1}`, [[0, "/a/b", 1]], "error"],
  ["walk past array end", `{"a":[]}`, [[0, "/a/0/b", 1]], "error"],
  ["no leading slash", `{"a":1}`, [[2, "a", 1]], "error"],
  ["bad escape", `{"a~2":1}`, [[2, "/a~2", 1]], "error"],
  ["trailing tilde", `{"a~":1}`, [[2, "/a~", 1]], "error"],
  ["__proto__", `{}`, [[0, "/__proto__", 1]], "error"],
  ["__proto__ inside", `{"a":{}}`, [[0, "/a/__proto__/polluted", 1]], "error"],
  // constructor and prototype are state like any key when the object owns
  // them, and absent when it does not (whatever it inherits).
  ["constructor inside", `{"constructor":{}}`, [[0, "/constructor/x", 1]], `{"constructor":{"x":1}}`],
  ["constructor replace inside", `{"constructor":{"a":1}}`, [[2, "/constructor/a", 2]], `{"constructor":{"a":2}}`],
  ["constructor add", `{}`, [[0, "/constructor", 1]], `{"constructor":1}`],
  ["constructor remove", `{"constructor":1,"b":2}`, [[1, "/constructor"]], `{"b":2}`],
  ["prototype last", `{"a":{}}`, [[0, "/a/prototype", 1]], `{"a":{"prototype":1}}`],
  ["prototype add object", `{}`, [[0, "/prototype", { x: 1 }]], `{"prototype":{"x":1}}`],
  ["prototype through", `{"prototype":{"x":1}}`, [[2, "/prototype/x", 2]], `{"prototype":{"x":2}}`],
  ["inherited constructor first", `{}`, [[2, "/constructor/prototype/polluted", 1]], "error"],
  ["inherited constructor name", `{}`, [[2, "/constructor/name", "x"]], "error"],
  ["inherited constructor replace", `{}`, [[2, "/constructor", 1]], "error"],
  ["inherited constructor remove", `{"a":1}`, [[1, "/constructor"]], "error"],
  ["inherited toString", `{"a":{}}`, [[0, "/a/toString/x", 1]], "error"],
  ["array constructor", `{"l":[]}`, [[0, "/l/constructor", 1]], "error"],
  ["unknown op", `{}`, [[3, "/a", 1] as unknown as Op], "error"],
  ["error after success", `{"a":1}`, [[1, "/a"], [1, "/a"]], "error"],
];

describe("applyPatch", () => {
  for (const [name, docJSON, ops, want] of cases) {
    it(name, () => {
      const doc = deepFreeze(JSON.parse(docJSON));
      if (want === "error") {
        expect(() => applyPatch(doc, ops)).toThrow(PatchError);
      } else {
        expect(applyPatch(doc, ops)).toEqual(JSON.parse(want));
      }
      // Frozen input: any write to it would have thrown.
      expect(doc).toEqual(JSON.parse(docJSON));
    });
  }

  it("never reaches Object.prototype", () => {
    const forbidden: Op[][] = [
      [[0, "/__proto__/polluted", 1]],
      [[0, "/a/__proto__", { polluted: 1 }]],
      [[2, "/constructor/__proto__/polluted", 1]],
    ];
    for (const o of forbidden) expect(() => applyPatch({ a: {} }, o)).toThrow(/forbidden key/);
    const inherited: Op[][] = [
      [[2, "/constructor/prototype/polluted", 1]],
      [[0, "/constructor/prototype/polluted", 1]],
      [[2, "/constructor/name", "polluted"]],
      [[0, "/a/constructor/polluted", 1]],
      [[0, "/a/hasOwnProperty/polluted", 1]],
    ];
    for (const o of inherited) expect(() => applyPatch({ a: {} }, o)).toThrow(/no key/);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty("polluted");
    expect(Object.name).toBe("Object");
    expect(Object).not.toHaveProperty("polluted");
  });

  it("changes only the own constructor and prototype keys it is given", () => {
    const doc = deepFreeze(JSON.parse(`{"constructor":{"a":1},"other":{}}`) as { constructor: { a: number }; other: object });
    const next = applyPatch(doc, [
      [2, "/constructor/a", 2],
      [0, "/other/prototype", { x: 1 }],
      [0, "/other/constructor", "c"],
    ]) as Record<string, Record<string, unknown>>;
    expect(Object.hasOwn(next, "constructor")).toBe(true);
    expect(next["constructor"]).toEqual({ a: 2 });
    expect(Object.getPrototypeOf(next)).toBe(Object.prototype);
    expect(Object.getPrototypeOf(next["other"])).toBe(Object.prototype);
    expect(Object.hasOwn(next["other"]!, "prototype")).toBe(true);
    expect(next["other"]!["prototype"]).toEqual({ x: 1 });
    expect(next["other"]!["constructor"]).toBe("c");
    expect(({} as { constructor: unknown }).constructor).toBe(Object);
    expect(doc.constructor).toEqual({ a: 1 });
  });

  it("keeps the identity of untouched subtrees", () => {
    const doc = deepFreeze({
      items: [
        { id: 1, text: "a", done: false },
        { id: 2, text: "b", done: false },
        { id: 3, text: "c", done: false },
      ],
      meta: { owner: { name: "x" } },
    });
    const next = applyPatch(doc, [[2, "/items/1/done", true]]) as typeof doc;
    expect(next).not.toBe(doc);
    expect(next.items).not.toBe(doc.items);
    expect(next.items[1]).not.toBe(doc.items[1]);
    expect(next.items[1]).toEqual({ id: 2, text: "b", done: true });
    expect(next.items[0]).toBe(doc.items[0]);
    expect(next.items[2]).toBe(doc.items[2]);
    expect(next.meta).toBe(doc.meta);
    expect(doc.items[1]!.done).toBe(false);
  });

  it("inserts op values as they are and copies them before changing them", () => {
    const value = { n: 1 };
    const a = applyPatch({}, [[0, "/v", value]]) as { v: unknown };
    expect(a.v).toBe(value);
    const b = applyPatch(a, [[2, "/v/n", 2]]) as { v: { n: number } };
    expect(b.v.n).toBe(2);
    expect(value.n).toBe(1);
  });

  it("applies many operations on one array in one patch", () => {
    const doc = deepFreeze({ l: [] as number[], other: { x: 1 } });
    const ops: Op[] = [];
    for (let i = 0; i < 1000; i++) ops.push([0, "/l/-", i]);
    for (let i = 0; i < 500; i++) ops.push([1, "/l/0"]);
    const next = applyPatch(doc, ops) as typeof doc;
    expect(next.l).toHaveLength(500);
    expect(next.l[0]).toBe(500);
    expect(next.other).toBe(doc.other);
    expect(doc.l).toHaveLength(0);
  });

  it("leaves the document untouched when a later operation fails", () => {
    const doc = deepFreeze({ a: [1, 2], b: { c: 1 } });
    expect(() =>
      applyPatch(doc, [
        [0, "/a/-", 3],
        [2, "/b/c", 2],
        [1, "/missing"],
      ]),
    ).toThrow(PatchError);
    expect(doc).toEqual({ a: [1, 2], b: { c: 1 } });
  });
});

describe("parsePointer", () => {
  it("splits and unescapes", () => {
    expect(parsePointer("")).toEqual([]);
    expect(parsePointer("/")).toEqual([""]);
    expect(parsePointer("/a~1b/m~0n/0")).toEqual(["a/b", "m~n", "0"]);
  });
});
