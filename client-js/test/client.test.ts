// The client's bookkeeping, with the test playing the server over an
// in-memory socket: optimistic overlays and their rollback, resync rules,
// reference-counted subscriptions and the Zustand binding.
import { afterEach, describe, expect, it, vi } from "vitest";
import { createStore } from "zustand/vanilla";
import Hotstate, { type BoundState, type HotstateClient, HotstateError } from "../src/client.js";
import { overlay } from "../src/optimistic.js";
import { fakeWebSocket } from "./helpers/fake-socket.js";

type Todos = { items: Array<{ id: number; text: string; done: boolean }> };
// An epoch as the client holds it: 16 hex digits.
const ep = (n: number): string => n.toString(16).padStart(16, "0");

const todos = (...texts: string[]): Todos => ({
  items: texts.map((text, i) => ({ id: i + 1, text, done: false })),
});

let client: HotstateClient | undefined;
afterEach(() => {
  client?.destroy();
  client = undefined;
  vi.useRealTimers();
  vi.restoreAllMocks();
});

/** outcome tells how p has settled once pending callbacks have run: "pending", or its value or error. */
async function outcome(p: Promise<unknown>): Promise<unknown> {
  let out: unknown = "pending";
  p.then(
    (value) => (out = { value }),
    (error) => (out = { error }),
  );
  for (let i = 0; i < 5; i++) await Promise.resolve();
  return out;
}

// MessagePack written byte by byte, for frames encodeFrame would not write.
const str = (s: string): number[] => {
  const b = [...new TextEncoder().encode(s)];
  return [0xa0 | b.length, ...b]; // fixstr: under 32 bytes
};
const EPOCH1 = [0xc4, 8, 0, 0, 0, 0, 0, 0, 0, 1]; // bin 8 of epoch ep(1)
const PROTO = [0x81, ...str("__proto__"), 1]; // {"__proto__": 1}
/** snapBytes is {t:17, s, e, v:0, d:{"__proto__": 1}}, keys in the server's order. */
const snapBytes = (s: string, e = EPOCH1): Uint8Array =>
  Uint8Array.from([0x85, ...str("t"), 17, ...str("s"), ...str(s), ...str("e"), ...e, ...str("v"), 0, ...str("d"), ...PROTO]);
/** patchBytes is {t:18, s, e, v, o:[[0, "/x", {"__proto__": 1}]]}. */
const patchBytes = (s: string, v: number): Uint8Array =>
  Uint8Array.from([0x85, ...str("t"), 18, ...str("s"), ...str(s), ...str("e"), ...EPOCH1, ...str("v"), v, ...str("o"), 0x91, 0x93, 0, ...str("/x"), ...PROTO]);

function setup(opts: { rpcTimeoutMs?: number; reconnectDelayMs?: number; reconnectMaxMs?: number } = {}) {
  const fake = fakeWebSocket();
  client = Hotstate({ WebSocket: fake.WebSocket, ...opts });
  client.connect("ws://test");
  const sock = fake.last();
  sock.open();
  return { client, fake, sock };
}

const rpcId = (f: { t: number; i?: number } | undefined): number => {
  expect(f?.t).toBe(3);
  return f!.i!;
};

describe("overlay", () => {
  it("applies overlays in order without touching the server state", () => {
    const server = Object.freeze({ n: 1 });
    const errors: unknown[] = [];
    const out = overlay(
      server,
      [
        { id: 1, fn: (s) => ({ n: s.n + 1 }) },
        {
          id: 2,
          fn: () => {
            throw new Error("boom");
          },
        },
        { id: 3, fn: (s) => ({ n: s.n * 10 }) },
      ],
      (e) => errors.push(e),
    );
    expect(out).toEqual({ n: 20 });
    expect(server).toEqual({ n: 1 });
    expect(errors).toHaveLength(1);
  });
});

describe("optimistic calls", () => {
  it("shows the overlay until the call is answered", async () => {
    const { client, sock } = setup();
    const seen: Todos[] = [];
    const h = client.subscribe<Todos>("Todos", (s) => seen.push(s));
    sock.receive({ t: 17, s: "Todos", e: ep(7), v: 0, d: todos("a") });
    await h.ready();
    sock.take();

    const p = client.call("todos.add", { text: "b" }, {
      store: "Todos",
      optimistic: (s: Todos) => ({ ...s, items: [...s.items, { id: -1, text: "b", done: false }] }),
    });
    const id = rpcId(sock.take()[0]);
    expect(h.getState()!.items.map((t) => t.text)).toEqual(["a", "b"]);
    expect(h.getServerState()!.items.map((t) => t.text)).toEqual(["a"]);
    // The server's patch comes before its answer.
    sock.receive({ t: 18, s: "Todos", e: ep(7), v: 1, o: [[0, "/items/-", { id: 2, text: "b", done: false }]] });
    expect(h.getState()!.items.map((t) => t.id)).toEqual([1, 2, -1]);
    sock.receive({ t: 19, i: id, r: { id: 2 } });
    await expect(p).resolves.toEqual({ id: 2 });
    expect(h.getState()).toBe(h.getServerState());
    expect(h.getState()!.items.map((t) => t.id)).toEqual([1, 2]);
    expect(seen.map((s) => s.items.length)).toEqual([1, 2, 3, 2]);
  });

  it("rolls back when the server refuses the call", async () => {
    const { client, sock } = setup();
    const h = client.subscribe<Todos>("Todos");
    sock.receive({ t: 17, s: "Todos", e: ep(7), v: 0, d: todos("a") });
    const before = h.getState();
    const p = client.call("todos.add", { text: "" }, {
      store: "Todos",
      optimistic: (s: Todos) => ({ items: [...s.items, { id: -1, text: "", done: false }] }),
    });
    expect(h.getState()!.items).toHaveLength(2);
    sock.receive({ t: 19, i: rpcId(sock.take().at(-1)), x: { c: "error", m: "text must not be empty" } });
    const err = await p.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HotstateError);
    expect(err).toMatchObject({ message: "text must not be empty", code: "error" });
    expect(h.getState()).toBe(before);
  });

  it("rolls back on timeout and ignores the late answer", async () => {
    vi.useFakeTimers();
    const { client, sock } = setup({ rpcTimeoutMs: 500 });
    const h = client.subscribe<Todos>("Todos");
    sock.receive({ t: 17, s: "Todos", e: ep(7), v: 0, d: todos("a") });
    const p = client.call("todos.toggle", { id: 1 }, {
      store: "Todos",
      optimistic: (s: Todos) => ({ items: s.items.map((t) => ({ ...t, done: !t.done })) }),
    });
    const settled = p.catch((e: Error) => e);
    expect(h.getState()!.items[0]!.done).toBe(true);
    vi.advanceTimersByTime(500);
    const err = await settled;
    expect(err).toMatchObject({ message: "RPC timeout", code: "timeout" });
    expect(h.getState()!.items[0]!.done).toBe(false);
    sock.receive({ t: 19, i: rpcId(sock.take().at(-1)), r: null });
    expect(h.getState()!.items[0]!.done).toBe(false);
  });

  it("rejects calls in flight with Disconnected, once, and drops their overlays", async () => {
    vi.useFakeTimers();
    const { client, sock, fake } = setup({ rpcTimeoutMs: 1000, reconnectDelayMs: 10 });
    const h = client.subscribe<Todos>("Todos");
    sock.receive({ t: 17, s: "Todos", e: ep(7), v: 0, d: todos("a") });
    let rejections = 0;
    const p = client
      .call("todos.add", { text: "b" }, {
        store: "Todos",
        optimistic: (s: Todos) => ({ items: [...s.items, { id: -1, text: "b", done: false }] }),
      })
      .catch((e: Error) => {
        rejections++;
        return e;
      });
    sock.drop();
    expect(h.getState()!.items).toHaveLength(1);
    vi.advanceTimersByTime(5000);
    expect(await p).toMatchObject({ message: "Disconnected", code: "disconnected" });
    await Promise.resolve();
    expect(rejections).toBe(1);
    expect(fake.sockets.length).toBeGreaterThan(1);
  });

  it("keeps calls made while offline and sends them on reconnect", async () => {
    vi.useFakeTimers();
    const { client, sock, fake } = setup({ reconnectDelayMs: 10 });
    sock.drop();
    const p = client.call("todos.add", { text: "later" });
    vi.advanceTimersByTime(20);
    const next = fake.last();
    expect(next).not.toBe(sock);
    next.open();
    const id = rpcId(next.take().find((f) => f.t === 3));
    next.receive({ t: 19, i: id, r: { id: 9 } });
    await expect(p).resolves.toEqual({ id: 9 });
  });

  it("stacks overlays and re-applies the rest on new server state", async () => {
    const { client, sock } = setup();
    const h = client.subscribe<{ n: number[] }>("N");
    sock.receive({ t: 17, s: "N", e: ep(1), v: 0, d: { n: [] } });
    sock.take();
    const add = (x: number) => (s: { n: number[] }) => ({ n: [...s.n, x] });
    const p1 = client.call("f", 1, { store: "N", optimistic: add(1) });
    const p2 = client.call("f", 2, { store: "N", optimistic: add(2) });
    const [f1, f2] = sock.take();
    expect(h.getState()).toEqual({ n: [1, 2] });
    sock.receive({ t: 18, s: "N", e: ep(1), v: 1, o: [[0, "/n/-", 1]] });
    sock.receive({ t: 19, i: rpcId(f1), r: null });
    await p1;
    expect(h.getState()).toEqual({ n: [1, 2] });
    sock.receive({ t: 19, i: rpcId(f2), x: { c: "error", m: "no" } });
    await expect(p2).rejects.toThrow("no");
    expect(h.getState()).toEqual({ n: [1] });
  });
});

describe("resync", () => {
  it("resubscribes on a version gap, an epoch change or a patch that does not apply", () => {
    const { client, sock } = setup();
    const errors: unknown[] = [];
    client.on("error", (e) => errors.push(e));
    const h = client.subscribe<{ a: number }>("S");
    expect(sock.take()).toEqual([{ t: 1, s: "S" }]);
    sock.receive({ t: 17, s: "S", e: ep(5), v: 3, d: { a: 1 } });

    sock.receive({ t: 18, s: "S", e: ep(5), v: 3, o: [[2, "/a", 99]] }); // duplicate: ignored
    sock.receive({ t: 18, s: "S", e: ep(5), v: 4, o: [[2, "/a", 2]] });
    expect(h.getState()).toEqual({ a: 2 });
    expect(sock.take()).toEqual([]);

    sock.receive({ t: 18, s: "S", e: ep(5), v: 6, o: [[2, "/a", 3]] }); // gap
    expect(sock.take()).toEqual([{ t: 1, s: "S" }]);
    sock.receive({ t: 18, s: "S", e: ep(5), v: 5, o: [[2, "/a", 4]] }); // in flight: ignored
    expect(h.getState()).toEqual({ a: 2 });
    sock.receive({ t: 17, s: "S", e: ep(5), v: 6, d: { a: 3 } });
    expect(h.getState()).toEqual({ a: 3 });

    sock.receive({ t: 18, s: "S", e: ep(8), v: 7, o: [[2, "/a", 5]] }); // another epoch
    expect(sock.take()).toEqual([{ t: 1, s: "S" }]);
    sock.receive({ t: 17, s: "S", e: ep(8), v: 0, d: { a: 0 } });

    sock.receive({ t: 18, s: "S", e: ep(8), v: 1, o: [[2, "/missing", 1]] }); // does not apply
    sock.receive({ t: 18, s: "S", e: ep(8), v: 2, o: [[2, "/__proto__/x", 1]] });
    expect(sock.take()).toEqual([{ t: 1, s: "S" }]);
    expect(errors).toHaveLength(1);
    expect(h.getState()).toEqual({ a: 0 });
  });

  it("applies patches through own constructor and prototype keys without resyncing", () => {
    const { client, sock } = setup();
    const errors: unknown[] = [];
    client.on("error", (e) => errors.push(e));
    const h = client.subscribe<Record<string, unknown>>("S");
    sock.receive({ t: 17, s: "S", e: ep(1), v: 0, d: { constructor: { a: 1 }, m: {} } });
    sock.take();
    sock.receive({ t: 18, s: "S", e: ep(1), v: 1, o: [[2, "/constructor/a", 2]] });
    sock.receive({ t: 18, s: "S", e: ep(1), v: 2, o: [[0, "/m/prototype", { x: 1 }]] });
    expect(h.getState()).toEqual({ constructor: { a: 2 }, m: { prototype: { x: 1 } } });
    expect(sock.take()).toEqual([]);
    // One through what an object only inherits does not apply: one resync, Object untouched.
    sock.receive({ t: 18, s: "S", e: ep(1), v: 3, o: [[2, "/m/constructor/name", "x"]] });
    expect(sock.take()).toEqual([{ t: 1, s: "S" }]);
    expect(Object.name).toBe("Object");
    sock.receive({ t: 17, s: "S", e: ep(1), v: 3, d: { constructor: { a: 3 } } });
    expect(h.getState()).toEqual({ constructor: { a: 3 } });
    expect(sock.take()).toEqual([]);
    expect(errors).toHaveLength(1);
  });

  it("resumes with {s, e, v} after a reconnect and accepts patches or a snapshot", () => {
    vi.useFakeTimers();
    const { client, sock, fake } = setup({ reconnectDelayMs: 10 });
    const a = client.subscribe<{ a: number }>("A");
    const b = client.subscribe<{ b: number }>("B");
    const c = client.subscribe("C");
    sock.receive({ t: 17, s: "A", e: ep(5), v: 3, d: { a: 1 } });
    sock.receive({ t: 17, s: "B", e: ep(6), v: 9, d: { b: 1 } });
    sock.drop();
    vi.advanceTimersByTime(20);
    const next = fake.last();
    next.open();
    expect(next.take()).toEqual([
      { t: 1, s: "A", e: ep(5), v: 3 },
      { t: 1, s: "B", e: ep(6), v: 9 },
      { t: 1, s: "C" },
    ]);
    next.receive({ t: 18, s: "A", e: ep(5), v: 4, o: [[2, "/a", 2]] });
    next.receive({ t: 17, s: "B", e: ep(60), v: 0, d: { b: 2 } });
    expect(a.getState()).toEqual({ a: 2 });
    expect(b.getState()).toEqual({ b: 2 });
    expect(c.hasData()).toBe(false);
  });
});

describe("subscriptions", () => {
  it("shares one wire subscription among independent handles", async () => {
    const { client, sock } = setup();
    const seen1: unknown[] = [];
    const seen2: unknown[] = [];
    const h1 = client.subscribe("S", (s) => seen1.push(s));
    const h2 = client.subscribe("S", (s) => seen2.push(s));
    expect(sock.take()).toEqual([{ t: 1, s: "S" }]);
    sock.receive({ t: 17, s: "S", e: ep(1), v: 0, d: { x: 1 } });
    h1.unsubscribe();
    expect(sock.take()).toEqual([]);
    sock.receive({ t: 18, s: "S", e: ep(1), v: 1, o: [[2, "/x", 2]] });
    expect(seen1).toEqual([{ x: 1 }]);
    expect(seen2).toEqual([{ x: 1 }, { x: 2 }]);
    const h3 = client.subscribe("S", (s) => seen1.push(s));
    expect(sock.take()).toEqual([]);
    await Promise.resolve();
    expect(seen1).toEqual([{ x: 1 }, { x: 2 }]);
    await expect(h3.ready()).resolves.toEqual({ x: 2 });
    h2.unsubscribe();
    h3.unsubscribe();
    await Promise.resolve();
    expect(sock.take()).toEqual([{ t: 2, s: "S" }]);
  });

  it("keeps the subscription when the last handle is replaced at once", async () => {
    const { client, sock } = setup();
    const h1 = client.subscribe("S");
    sock.receive({ t: 17, s: "S", e: ep(1), v: 0, d: { x: 1 } });
    h1.unsubscribe();
    const h2 = client.subscribe("S");
    await Promise.resolve();
    expect(sock.take()).toEqual([{ t: 1, s: "S" }]);
    expect(h2.getState()).toEqual({ x: 1 });
  });

  it("rejects ready and emits error for a store the server refuses", async () => {
    const { client, sock } = setup();
    const errors: HotstateError[] = [];
    client.on("error", (e) => errors.push(e));
    const h = client.subscribe("Missing");
    sock.receive({ t: 22, s: "Missing", x: { c: "not_found", m: 'store "Missing" not found' } });
    await expect(h.ready()).rejects.toMatchObject({ code: "not_found", store: "Missing" });
    expect(errors.map((e) => e.code)).toEqual(["not_found"]);
    expect(h.getError()).toBe(errors[0]);
    // A new handle asks again.
    sock.take();
    const again = client.subscribe("Missing");
    expect(sock.take()).toEqual([{ t: 1, s: "Missing" }]);
    expect(again.getError()).toBeUndefined();
  });

  it("ends handles when the store is deleted", async () => {
    const { client, sock } = setup();
    const deleted: string[] = [];
    client.on("storeDeleted", (name) => deleted.push(name));
    const seen: unknown[] = [];
    const h = client.subscribe("Room:x", (s) => seen.push(s));
    sock.receive({ t: 17, s: "Room:x", e: ep(1), v: 0, d: { m: [] } });
    sock.receive({ t: 20, s: "Room:x" });
    sock.receive({ t: 18, s: "Room:x", e: ep(1), v: 1, o: [[0, "/m/-", 1]] });
    expect(deleted).toEqual(["Room:x"]);
    expect(seen).toEqual([{ m: [] }]);
    h.unsubscribe();
    expect(sock.take()).toEqual([{ t: 1, s: "Room:x" }]);
    // A new subscription creates the store anew.
    client.subscribe("Room:x");
    expect(sock.take()).toEqual([{ t: 1, s: "Room:x" }]);
  });

  it("fills a Zustand store with status and states", () => {
    const fake = fakeWebSocket();
    client = Hotstate({ WebSocket: fake.WebSocket });
    const store = createStore<BoundState & { other: number }>(() => ({ status: "disconnected", stores: {}, other: 1 }));
    client.bindZustand(store);
    client.subscribe("A");
    client.subscribe("B");
    client.connect("ws://test");
    expect(store.getState().status).toBe("connecting");
    const sock = fake.last();
    sock.open();
    expect(store.getState().status).toBe("connected");
    sock.receive({ t: 17, s: "A", e: ep(1), v: 0, d: { a: { deep: 1 }, b: { deep: 2 } } });
    const first = store.getState().stores["A"] as Record<string, unknown>;
    sock.receive({ t: 17, s: "B", e: ep(1), v: 0, d: { b: 1 } });
    sock.receive({ t: 18, s: "A", e: ep(1), v: 1, o: [[2, "/b/deep", 3]] });
    const a = store.getState().stores["A"] as Record<string, unknown>;
    expect(a).toEqual({ a: { deep: 1 }, b: { deep: 3 } });
    expect(a["a"]).toBe(first["a"]);
    expect(store.getState().stores["B"]).toEqual({ b: 1 });
    expect(store.getState().other).toBe(1);
    sock.drop();
    expect(store.getState().status).toBe("reconnecting");
  });
});

describe("refused subscriptions", () => {
  const refuse = (sock: { receive(f: any): void }, s: string, c: string) =>
    sock.receive({ t: 22, s, x: { c, m: c } });

  it("asks again for a resume refused as rate_limited, backing off, until the server serves it", async () => {
    vi.useFakeTimers();
    vi.spyOn(Math, "random").mockReturnValue(0.999999); // every delay at its ceiling
    const { client, sock, fake } = setup({ reconnectDelayMs: 10, reconnectMaxMs: 300 });
    const errors: unknown[] = [];
    client.on("error", (e) => errors.push(e));
    const a = client.subscribe<{ a: number }>("A");
    const b = client.subscribe<{ b: number }>("B");
    sock.receive({ t: 17, s: "A", e: ep(5), v: 3, d: { a: 1 } });
    sock.receive({ t: 17, s: "B", e: ep(6), v: 9, d: { b: 1 } });
    sock.drop();
    vi.advanceTimersByTime(20);
    const next = fake.last();
    next.open();
    expect(next.take()).toEqual([
      { t: 1, s: "A", e: ep(5), v: 3 },
      { t: 1, s: "B", e: ep(6), v: 9 },
    ]);
    // Delays from 100 ms, doubling up to reconnectMaxMs.
    for (const delay of [99, 199, 299, 299]) {
      refuse(next, "B", "rate_limited");
      vi.advanceTimersByTime(delay - 1);
      expect(next.take()).toEqual([]);
      vi.advanceTimersByTime(1);
      expect(next.take()).toEqual([{ t: 1, s: "B", e: ep(6), v: 9 }]);
    }
    next.receive({ t: 18, s: "B", e: ep(6), v: 10, o: [[2, "/b", 2]] });
    expect(b.getState()).toEqual({ b: 2 });
    await expect(b.ready()).resolves.toEqual({ b: 2 });
    expect(b.getError()).toBeUndefined();
    expect(a.getState()).toEqual({ a: 1 });
    expect(errors).toEqual([]);
  });

  it("asks again for a first subscribe and a resync refused for now", async () => {
    vi.useFakeTimers();
    const { client, sock } = setup({ reconnectMaxMs: 1000 });
    const h = client.subscribe<{ a: number }>("S");
    sock.take();
    refuse(sock, "S", "rate_limited");
    const ready = h.ready();
    vi.advanceTimersByTime(100);
    expect(sock.take()).toEqual([{ t: 1, s: "S" }]);
    sock.receive({ t: 17, s: "S", e: ep(1), v: 0, d: { a: 0 } });
    await expect(ready).resolves.toEqual({ a: 0 });

    sock.receive({ t: 18, s: "S", e: ep(1), v: 2, o: [[2, "/a", 2]] }); // gap
    expect(sock.take()).toEqual([{ t: 1, s: "S" }]);
    refuse(sock, "S", "busy");
    refuse(sock, "S", "rate_limited"); // one retry answers both
    vi.advanceTimersByTime(100);
    expect(sock.take()).toEqual([{ t: 1, s: "S" }]);
    sock.receive({ t: 17, s: "S", e: ep(1), v: 2, d: { a: 2 } });
    expect(h.getState()).toEqual({ a: 2 });
    vi.advanceTimersByTime(10_000);
    expect(sock.take()).toEqual([]);
  });

  it("drops pending retries on disconnect, unsubscribe and destroy", async () => {
    vi.useFakeTimers();
    const { client, sock, fake } = setup({ reconnectDelayMs: 10, reconnectMaxMs: 1000 });
    client.subscribe("A");
    const b = client.subscribe("B");
    sock.take();
    refuse(sock, "A", "rate_limited");
    refuse(sock, "B", "rate_limited");
    b.unsubscribe();
    await Promise.resolve();
    expect(sock.take()).toEqual([{ t: 2, s: "B" }]);
    vi.advanceTimersByTime(5000);
    expect(sock.take()).toEqual([{ t: 1, s: "A" }]);

    refuse(sock, "A", "rate_limited");
    sock.drop();
    vi.advanceTimersByTime(10);
    const next = fake.last();
    next.open();
    expect(next.take()).toEqual([{ t: 1, s: "A" }]);
    vi.advanceTimersByTime(5000);
    expect(next.take()).toEqual([]); // the old connection's retry is gone

    refuse(next, "A", "rate_limited");
    expect(vi.getTimerCount()).toBe(1);
    client.destroy();
    expect(vi.getTimerCount()).toBe(0);
  });

  it("ends a handle whose resume is refused for good, though it had data", async () => {
    vi.useFakeTimers();
    const { client, sock, fake } = setup({ reconnectDelayMs: 10 });
    const errors: HotstateError[] = [];
    client.on("error", (e) => errors.push(e));
    const seen: unknown[] = [];
    const a = client.subscribe("A", (s) => seen.push(s));
    const other = client.subscribe("B");
    sock.receive({ t: 17, s: "A", e: ep(5), v: 3, d: { a: 1 } });
    sock.receive({ t: 17, s: "B", e: ep(5), v: 3, d: { b: 1 } });
    await expect(a.ready()).resolves.toEqual({ a: 1 });
    sock.drop();
    vi.advanceTimersByTime(20);
    const next = fake.last();
    next.open();
    next.take();
    refuse(next, "A", "forbidden");
    const err = await a.ready().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HotstateError);
    expect(err).toMatchObject({ code: "forbidden", store: "A" });
    expect(a.getError()).toBe(err);
    expect(errors).toEqual([err]);
    // The server may hold the subscription still (a refused resync); it is let go.
    expect(next.take()).toEqual([{ t: 2, s: "A" }]);
    next.receive({ t: 18, s: "A", e: ep(5), v: 4, o: [[2, "/a", 2]] });
    expect(seen).toEqual([{ a: 1 }]);
    expect(client.getState("A")).toBeUndefined();
    expect(other.getState()).toEqual({ b: 1 });
    vi.advanceTimersByTime(60_000);
    expect(next.take()).toEqual([]);
    // Subscribing again asks the server anew.
    client.subscribe("A");
    expect(next.take()).toEqual([{ t: 1, s: "A" }]);
  });

  it("ends a handle whose resync is refused for good", async () => {
    const { client, sock } = setup();
    const errors: HotstateError[] = [];
    client.on("error", (e) => errors.push(e));
    const h = client.subscribe("S");
    sock.receive({ t: 17, s: "S", e: ep(1), v: 0, d: { a: 0 } });
    sock.take();
    sock.receive({ t: 18, s: "S", e: ep(2), v: 1, o: [] }); // another epoch
    expect(sock.take()).toEqual([{ t: 1, s: "S" }]);
    refuse(sock, "S", "too_many_subscriptions");
    await expect(h.ready()).rejects.toMatchObject({ code: "too_many_subscriptions", store: "S" });
    expect(errors.map((e) => e.code)).toEqual(["too_many_subscriptions"]);
    expect(sock.take()).toEqual([{ t: 2, s: "S" }]);
  });
});

describe("undecodable frames", () => {
  it("rejects ready and emits error for a snapshot holding __proto__", async () => {
    const { client, sock } = setup();
    const errors: unknown[] = [];
    client.on("error", (e) => errors.push(e));
    const h = client.subscribe("S");
    const other = client.subscribe("T");
    sock.take();
    sock.receiveBytes(snapBytes("S"));
    const out = (await outcome(h.ready())) as { error?: Error };
    expect(out.error).toBeInstanceOf(Error);
    expect(out.error!.message).toMatch(/__proto__/);
    expect(errors).toEqual([out.error]);
    expect(h.getError()).toBe(out.error);
    expect(sock.take()).toEqual([{ t: 2, s: "S" }]);
    expect(await outcome(other.ready())).toBe("pending");
  });

  it("rejects ready for an unreadable snapshot though the store had data", async () => {
    const { client, sock } = setup();
    const errors: unknown[] = [];
    client.on("error", (e) => errors.push(e));
    const h = client.subscribe<{ a: number }>("S");
    sock.receive({ t: 17, s: "S", e: ep(1), v: 0, d: { a: 0 } });
    sock.receive({ t: 18, s: "S", e: ep(1), v: 5, o: [] }); // gap
    sock.take();
    sock.receiveBytes(snapBytes("S"));
    const out = (await outcome(h.ready())) as { error?: Error };
    expect(out.error?.message).toMatch(/__proto__/);
    expect(errors).toEqual([out.error]);
  });

  it("resynchronises on a patch holding __proto__", () => {
    const { client, sock } = setup();
    const errors: unknown[] = [];
    client.on("error", (e) => errors.push(e));
    const h = client.subscribe<{ a: number }>("S");
    sock.receive({ t: 17, s: "S", e: ep(1), v: 0, d: { a: 0 } });
    sock.take();
    sock.receiveBytes(patchBytes("S", 1));
    expect(sock.take()).toEqual([{ t: 1, s: "S" }]);
    expect(errors).toHaveLength(1);
    sock.receive({ t: 17, s: "S", e: ep(1), v: 1, d: { a: 1 } });
    expect(h.getState()).toEqual({ a: 1 });
  });

  it("treats a snapshot whose epoch is not 8 bytes as undecodable", async () => {
    const { client, sock } = setup();
    const errors: unknown[] = [];
    client.on("error", (e) => errors.push(e));
    const h = client.subscribe("S");
    sock.receiveBytes(
      Uint8Array.from([0x85, ...str("t"), 17, ...str("s"), ...str("S"), ...str("e"), 0xc4, 4, 0, 0, 0, 1, ...str("v"), 0, ...str("d"), 0x80]),
    );
    const out = (await outcome(h.ready())) as { error?: Error };
    expect(out.error?.message).toMatch(/epoch/);
    expect(errors).toEqual([out.error]);
  });

  it("reports an undecodable frame for no known store", () => {
    const { client, sock } = setup();
    const errors: unknown[] = [];
    client.on("error", (e) => errors.push(e));
    client.subscribe("S");
    sock.take();
    sock.receiveBytes(snapBytes("Other"));
    sock.receiveBytes(Uint8Array.from([0xc1]));
    expect(errors).toHaveLength(2);
    expect(sock.take()).toEqual([]);
  });
});

describe("connection attempts", () => {
  /** settle lets pending promise callbacks run. */
  const settle = async () => {
    for (let i = 0; i < 5; i++) await Promise.resolve();
  };

  it("asks getToken before every attempt and puts the token in the URL", async () => {
    vi.useFakeTimers();
    const fake = fakeWebSocket();
    const tokens = ["a b&c", "second"];
    let asked = 0;
    client = Hotstate({ WebSocket: fake.WebSocket, reconnectDelayMs: 10, getToken: async () => tokens[asked++] });
    const statuses: string[] = [];
    client.onStatus((s) => statuses.push(s));
    client.connect("ws://test/ws?room=1");
    expect(client.status).toBe("connecting");
    expect(fake.sockets).toHaveLength(0);
    await settle();
    expect(fake.last().url).toBe("ws://test/ws?room=1&token=a%20b%26c");
    fake.last().open();
    fake.last().drop();
    await vi.advanceTimersByTimeAsync(10);
    expect(asked).toBe(2);
    expect(fake.sockets.map((s) => s.url)).toEqual(["ws://test/ws?room=1&token=a%20b%26c", "ws://test/ws?room=1&token=second"]);
    expect(statuses).toEqual(["connecting", "connected", "disconnected", "reconnecting"]);
  });

  it("calls a URL function for every attempt and adds nothing for a null token", async () => {
    vi.useFakeTimers();
    const fake = fakeWebSocket();
    let n = 0;
    client = Hotstate(() => `ws://test/${++n}`, { WebSocket: fake.WebSocket, reconnectDelayMs: 10, getToken: () => null });
    await settle();
    fake.last().drop();
    await vi.advanceTimersByTimeAsync(10);
    expect(fake.sockets.map((s) => s.url)).toEqual(["ws://test/1", "ws://test/2"]);
  });

  it("emits a failing getToken as an error and retries with backoff", async () => {
    vi.useFakeTimers();
    const fake = fakeWebSocket();
    let asked = 0;
    const getToken = () => {
      if (asked++ === 0) throw new Error("token service down");
      return Promise.resolve("t");
    };
    client = Hotstate({ WebSocket: fake.WebSocket, reconnectDelayMs: 10, getToken });
    const errors: Error[] = [];
    const retries: unknown[] = [];
    client.on("error", (e: Error) => errors.push(e));
    client.on("reconnecting", (r) => retries.push(r));
    const ready = client.ready();
    client.connect("ws://test");
    await settle();
    expect(errors.map((e) => e.message)).toEqual(["token service down"]);
    expect(retries).toHaveLength(1);
    expect(client.status).toBe("reconnecting");
    await vi.advanceTimersByTimeAsync(10);
    fake.last().open();
    await expect(ready).resolves.toBeUndefined();
    expect(fake.last().url).toBe("ws://test?token=t");
  });

  it("fails ready when getToken fails and reconnect is off", async () => {
    const fake = fakeWebSocket();
    client = Hotstate({ WebSocket: fake.WebSocket, reconnect: false, getToken: () => Promise.reject(new Error("no")) });
    client.on("error", () => {});
    const ready = client.ready();
    client.connect("ws://test");
    expect(await outcome(ready)).toMatchObject({ error: { code: "disconnected" } });
    expect(client.status).toBe("disconnected");
    expect(fake.sockets).toHaveLength(0);
  });

  it("drops a token that arrives after connect was called again or the client was destroyed", async () => {
    const fake = fakeWebSocket();
    const pending: Array<(t: string) => void> = [];
    client = Hotstate({ WebSocket: fake.WebSocket, getToken: () => new Promise<string>((r) => pending.push(r)) });
    client.connect("ws://one");
    client.connect("ws://two");
    pending[1]!("new");
    pending[0]!("old");
    await settle();
    expect(fake.sockets.map((s) => s.url)).toEqual(["ws://two?token=new"]);
    client.connect("ws://three");
    client.destroy();
    pending[2]!("late");
    await settle();
    expect(fake.sockets).toHaveLength(1);
    expect(client.status).toBe("disconnected");
  });

  it("tells onStatus listeners of every change until they stop or the client is destroyed", () => {
    const fake = fakeWebSocket();
    client = Hotstate({ WebSocket: fake.WebSocket, reconnect: false });
    const a: string[] = [];
    const b: string[] = [];
    const offA = client.onStatus((s) => a.push(s));
    client.onStatus((s) => b.push(s));
    client.connect("ws://test");
    fake.last().open();
    offA();
    client.destroy();
    expect(a).toEqual(["connecting", "connected"]);
    expect(b).toEqual(["connecting", "connected", "disconnected"]);
  });
});
