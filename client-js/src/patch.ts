// RFC 6902 patch application over plain JSON-shaped values, immutably: only
// the objects and arrays on each operation's path are copied, every other
// subtree keeps its identity, so selectors comparing by identity see
// exactly what changed.
import type { Op } from "./protocol.js";

/** PatchError is thrown by applyPatch for a patch that does not fit the document. */
export class PatchError extends Error {
  constructor(message: string) {
    super("hotstate: patch does not apply: " + message);
    this.name = "PatchError";
  }
}

type Container = Record<string, unknown> | unknown[];

const INDEX = /^(0|[1-9][0-9]{0,9})$/;

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
  return path
    .slice(1)
    .split("/")
    .map((raw) => {
      if (/~[^01]|~$/.test(raw)) throw new PatchError(`bad ~ escape in ${JSON.stringify(path)}`);
      const tok = raw.replace(/~1/g, "/").replace(/~0/g, "~");
      if (tok === "__proto__") throw new PatchError(`forbidden key ${tok}`);
      return tok;
    });
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

// Own keys only: "constructor" or "toString" must name state, never what
// a plain object inherits.
const has = (o: object, k: string): boolean => Object.hasOwn(o, k);

/** index parses an array index token, returning -1 when it is not one or exceeds limit. */
function index(tok: string, limit: number): number {
  if (!INDEX.test(tok)) return -1;
  const n = Number(tok);
  return n > limit ? -1 : n;
}

/**
 * applyPatch returns doc with ops applied in order and never changes doc or
 * anything in it. Operation values are inserted as they are. It throws a
 * PatchError when an operation does not apply; doc is then left untouched.
 */
export function applyPatch(doc: unknown, ops: readonly Op[]): unknown {
  // Containers copied by this call; later operations may change them in
  // place because nobody else has seen them yet.
  const owned = new WeakSet<object>();
  const own = <C extends Container>(c: C): C => {
    if (owned.has(c)) return c;
    const copy = (Array.isArray(c) ? c.slice() : { ...c }) as C;
    owned.add(copy);
    return copy;
  };

  for (const op of ops) {
    if (!Array.isArray(op)) throw new PatchError("operation is not an array");
    const [code, path, value] = op as [unknown, unknown, unknown];
    if (code !== 0 && code !== 1 && code !== 2) throw new PatchError(`unknown op code ${String(code)}`);
    if (typeof path !== "string") throw new PatchError("path is not a string");
    const tokens = parsePointer(path);
    if (tokens.length === 0) {
      if (code === 1) throw new PatchError("cannot remove the whole document");
      doc = value;
      continue;
    }
    if (typeof doc !== "object" || doc === null) throw new PatchError(`${path}: not a container`);
    const root = own(doc as Container);
    let parent: Container = root;
    for (let i = 0; i < tokens.length - 1; i++) {
      const tok = tokens[i]!;
      let child: unknown;
      if (Array.isArray(parent)) {
        const at = index(tok, parent.length - 1);
        if (at < 0) throw new PatchError(`${path}: index ${tok} out of range`);
        child = parent[at];
        if (typeof child !== "object" || child === null) throw new PatchError(`${path}: not a container`);
        parent = parent[at] = own(child as Container);
      } else {
        if (!has(parent, tok)) throw new PatchError(`${path}: no key ${tok}`);
        child = parent[tok];
        if (typeof child !== "object" || child === null) throw new PatchError(`${path}: not a container`);
        parent = parent[tok] = own(child as Container);
      }
    }
    const last = tokens[tokens.length - 1]!;
    if (Array.isArray(parent)) {
      if (code === 0) {
        const at = last === "-" ? parent.length : index(last, parent.length);
        if (at < 0) throw new PatchError(`${path}: index ${last} out of range`);
        parent.splice(at, 0, value);
      } else {
        const at = index(last, parent.length - 1);
        if (at < 0) throw new PatchError(`${path}: index ${last} out of range`);
        if (code === 1) parent.splice(at, 1);
        else parent[at] = value;
      }
    } else if (isObject(parent)) {
      if (code !== 0 && !has(parent, last)) throw new PatchError(`${path}: no key ${last}`);
      if (code === 1) delete parent[last];
      else parent[last] = value;
    }
    doc = root;
  }
  return doc;
}
