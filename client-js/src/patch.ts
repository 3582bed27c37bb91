// RFC 6902 patch application over plain JSON-shaped values, immutably: only
// the objects and arrays on the operations' paths are copied, each at most
// once per patch, and every other subtree keeps its identity, so selectors
// comparing by identity see exactly what changed.
import type { Op } from "./protocol.js";

/** PatchError is thrown by applyPatch for a patch that does not fit the document. */
export class PatchError extends Error {
  constructor(message: string) {
    super("hotstate: patch does not apply: " + message);
    this.name = "PatchError";
  }
}

type Container = Record<string, unknown> | unknown[];

/**
 * parsePointer splits an RFC 6901 JSON Pointer into unescaped tokens. It
 * throws on a pointer not starting with "/", a bad "~" escape, or a token
 * naming __proto__, which no object holds as its own key: assigning to it
 * would replace the object's prototype. Other keys are safe because every
 * step of a path goes only through own properties.
 */
export function parsePointer(path: string): string[] {
  if (path === "") return [];
  if (path[0] !== "/") throw new PatchError(`pointer ${JSON.stringify(path)} does not start with /`);
  // Patches arrive by the thousand: an indexOf walk costs a third of
  // split's, and few paths hold a "~" to unescape.
  const escaped = path.includes("~");
  const tokens: string[] = [];
  for (let start = 1; ; ) {
    const slash = path.indexOf("/", start);
    let tok = slash < 0 ? path.slice(start) : path.slice(start, slash);
    if (escaped) {
      if (/~[^01]|~$/.test(tok)) throw new PatchError(`bad ~ escape in ${JSON.stringify(path)}`);
      tok = tok.replace(/~1/g, "/").replace(/~0/g, "~");
    }
    if (tok === "__proto__") throw new PatchError(`forbidden key ${tok}`);
    tokens.push(tok);
    if (slash < 0) return tokens;
    start = slash + 1;
  }
}

/**
 * index parses an array index token ("0", or digits without a leading
 * zero), returning -1 when it is not one or exceeds limit.
 */
function index(tok: string, limit: number): number {
  const n = tok.length;
  if (n === 0 || n > 10 || (n > 1 && tok.charCodeAt(0) === 48)) return -1;
  let v = 0;
  for (let i = 0; i < n; i++) {
    const d = tok.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return v > limit ? -1 : v;
}

/** own returns c, or a shallow copy of it when owned does not hold c, recording the copy in owned. */
function own<C extends Container>(c: C, owned: Set<object> | undefined): C {
  if (owned?.has(c)) return c;
  const copy = (Array.isArray(c) ? c.slice() : { ...c }) as C;
  owned?.add(copy);
  return copy;
}

/**
 * applyPatch returns doc with ops applied in order and never changes doc or
 * anything in it. Operation values are inserted as they are. It throws a
 * PatchError when an operation does not apply; doc is then left untouched.
 */
export function applyPatch(doc: unknown, ops: readonly Op[]): unknown {
  // Containers this call copied: nobody else has seen them, so later
  // operations change them in place instead of copying them again. A
  // one-operation patch, the common case, has no later operation to tell.
  const owned = ops.length > 1 ? new Set<object>() : undefined;

  for (const op of ops) {
    if (!Array.isArray(op)) throw new PatchError("operation is not an array");
    const code: unknown = op[0];
    const path: unknown = op[1];
    const value: unknown = op[2];
    if (code !== 0 && code !== 1 && code !== 2) throw new PatchError(`unknown op code ${String(code)}`);
    if (typeof path !== "string") throw new PatchError("path is not a string");
    const tokens = parsePointer(path);
    const end = tokens.length - 1;
    if (end < 0) {
      if (code === 1) throw new PatchError("cannot remove the whole document");
      doc = value;
      continue;
    }
    if (typeof doc !== "object" || doc === null) throw new PatchError(`${path}: not a container`);
    const root = own(doc as Container, owned);
    let parent: Container = root;
    for (let i = 0; i < end; i++) {
      const tok = tokens[i]!;
      let child: unknown;
      if (Array.isArray(parent)) {
        const at = index(tok, parent.length - 1);
        if (at < 0) throw new PatchError(`${path}: index ${tok} out of range`);
        child = parent[at];
        if (typeof child !== "object" || child === null) throw new PatchError(`${path}: not a container`);
        parent = parent[at] = own(child as Container, owned);
      } else {
        // Own keys only: "constructor" or "toString" must name state,
        // never what a plain object inherits.
        if (!Object.hasOwn(parent, tok)) throw new PatchError(`${path}: no key ${tok}`);
        child = parent[tok];
        if (typeof child !== "object" || child === null) throw new PatchError(`${path}: not a container`);
        parent = parent[tok] = own(child as Container, owned);
      }
    }
    const last = tokens[end]!;
    if (Array.isArray(parent)) {
      if (code === 0) {
        const at = last === "-" ? parent.length : index(last, parent.length);
        if (at < 0) throw new PatchError(`${path}: index ${last} out of range`);
        if (at === parent.length) parent.push(value);
        else parent.splice(at, 0, value);
      } else {
        const at = index(last, parent.length - 1);
        if (at < 0) throw new PatchError(`${path}: index ${last} out of range`);
        if (code === 1) parent.splice(at, 1);
        else parent[at] = value;
      }
    } else {
      if (code !== 0 && !Object.hasOwn(parent, last)) throw new PatchError(`${path}: no key ${last}`);
      if (code === 1) delete parent[last];
      else parent[last] = value;
    }
    doc = root;
  }
  return doc;
}
