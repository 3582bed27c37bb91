// The client's bookkeeping, with the test playing the server over an
// in-memory socket: optimistic overlays and their rollback, resync rules,
// reference-counted subscriptions and the Zustand binding.
import { afterEach, describe, expect, it, vi } from "vitest";
import { createStore } from "zustand/vanilla";
import Hotstate, { type BoundState, type HotstateClient, HotstateError } from "../src/client.js";
import { overlay } from "../src/optimistic.js";
import { fakeWebSocket } from "./helpers/fake-socket.js";

type Todos = { items: Array<{ id: number; text: string; done: boolean }> };
const todos = (...texts: string[]): Todos => ({
  items: texts.map((text, i) => ({ id: i + 1, text, done: false })),
});

let client: HotstateClient | undefined;
afterEach(() => {
  client?.destroy();
  client = undefined;
  vi.useRealTimers();
});

function setup(opts: { rpcTimeoutMs?: number; reconnectDelayMs?: number } = {}) {
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
    sock.receive({ t: 17, s: "Todos", e: 7, v: 0, d: todos("a") });
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
    sock.receive({ t: 18, s: "Todos", e: 7, v: 1, o: [[0, "/items/-", { id: 2, text: "b", done: false }]] });
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
    sock.receive({ t: 17, s: "Todos", e: 7, v: 0, d: todos("a") });
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
    sock.receive({ t: 17, s: "Todos", e: 7, v: 0, d: todos("a") });
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
    sock.receive({ t: 17, s: "Todos", e: 7, v: 0, d: todos("a") });
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
    sock.receive({ t: 17, s: "N", e: 1, v: 0, d: { n: [] } });
    sock.take();
    const add = (x: number) => (s: { n: number[] }) => ({ n: [...s.n, x] });
    const p1 = client.call("f", 1, { store: "N", optimistic: add(1) });
    const p2 = client.call("f", 2, { store: "N", optimistic: add(2) });
    const [f1, f2] = sock.take();
    expect(h.getState()).toEqual({ n: [1, 2] });
    sock.receive({ t: 18, s: "N", e: 1, v: 1, o: [[0, "/n/-", 1]] });
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
    sock.receive({ t: 17, s: "S", e: 5, v: 3, d: { a: 1 } });

    sock.receive({ t: 18, s: "S", e: 5, v: 3, o: [[2, "/a", 99]] }); // duplicate: ignored
    sock.receive({ t: 18, s: "S", e: 5, v: 4, o: [[2, "/a", 2]] });
    expect(h.getState()).toEqual({ a: 2 });
    expect(sock.take()).toEqual([]);

    sock.receive({ t: 18, s: "S", e: 5, v: 6, o: [[2, "/a", 3]] }); // gap
    expect(sock.take()).toEqual([{ t: 1, s: "S" }]);
    sock.receive({ t: 18, s: "S", e: 5, v: 5, o: [[2, "/a", 4]] }); // in flight: ignored
    expect(h.getState()).toEqual({ a: 2 });
    sock.receive({ t: 17, s: "S", e: 5, v: 6, d: { a: 3 } });
    expect(h.getState()).toEqual({ a: 3 });

    sock.receive({ t: 18, s: "S", e: 8, v: 7, o: [[2, "/a", 5]] }); // another epoch
    expect(sock.take()).toEqual([{ t: 1, s: "S" }]);
    sock.receive({ t: 17, s: "S", e: 8, v: 0, d: { a: 0 } });

    sock.receive({ t: 18, s: "S", e: 8, v: 1, o: [[2, "/missing", 1]] }); // does not apply
    sock.receive({ t: 18, s: "S", e: 8, v: 2, o: [[2, "/__proto__/x", 1]] });
    expect(sock.take()).toEqual([{ t: 1, s: "S" }]);
    expect(errors).toHaveLength(1);
    expect(h.getState()).toEqual({ a: 0 });
  });

  it("resumes with {s, e, v} after a reconnect and accepts patches or a snapshot", () => {
    vi.useFakeTimers();
    const { client, sock, fake } = setup({ reconnectDelayMs: 10 });
    const a = client.subscribe<{ a: number }>("A");
    const b = client.subscribe<{ b: number }>("B");
    const c = client.subscribe("C");
    sock.receive({ t: 17, s: "A", e: 5, v: 3, d: { a: 1 } });
    sock.receive({ t: 17, s: "B", e: 6, v: 9, d: { b: 1 } });
    sock.drop();
    vi.advanceTimersByTime(20);
    const next = fake.last();
    next.open();
    expect(next.take()).toEqual([
      { t: 1, s: "A", e: 5, v: 3 },
      { t: 1, s: "B", e: 6, v: 9 },
      { t: 1, s: "C" },
    ]);
    next.receive({ t: 18, s: "A", e: 5, v: 4, o: [[2, "/a", 2]] });
    next.receive({ t: 17, s: "B", e: 60, v: 0, d: { b: 2 } });
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
    sock.receive({ t: 17, s: "S", e: 1, v: 0, d: { x: 1 } });
    h1.unsubscribe();
    expect(sock.take()).toEqual([]);
    sock.receive({ t: 18, s: "S", e: 1, v: 1, o: [[2, "/x", 2]] });
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
    sock.receive({ t: 17, s: "S", e: 1, v: 0, d: { x: 1 } });
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
  });

  it("ends handles when the store is deleted", async () => {
    const { client, sock } = setup();
    const deleted: string[] = [];
    client.on("storeDeleted", (name) => deleted.push(name));
    const seen: unknown[] = [];
    const h = client.subscribe("Room:x", (s) => seen.push(s));
    sock.receive({ t: 17, s: "Room:x", e: 1, v: 0, d: { m: [] } });
    sock.receive({ t: 20, s: "Room:x" });
    sock.receive({ t: 18, s: "Room:x", e: 1, v: 1, o: [[0, "/m/-", 1]] });
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
    sock.receive({ t: 17, s: "A", e: 1, v: 0, d: { a: { deep: 1 }, b: { deep: 2 } } });
    const first = store.getState().stores["A"] as Record<string, unknown>;
    sock.receive({ t: 17, s: "B", e: 1, v: 0, d: { b: 1 } });
    sock.receive({ t: 18, s: "A", e: 1, v: 1, o: [[2, "/b/deep", 3]] });
    const a = store.getState().stores["A"] as Record<string, unknown>;
    expect(a).toEqual({ a: { deep: 1 }, b: { deep: 3 } });
    expect(a["a"]).toBe(first["a"]);
    expect(store.getState().stores["B"]).toEqual({ b: 1 });
    expect(store.getState().other).toBe(1);
    sock.drop();
    expect(store.getState().status).toBe("reconnecting");
  });
});
