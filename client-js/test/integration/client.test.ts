// The client against the real Go examples/todo server: every behaviour of
// the client API that needs no network trouble.
import WebSocket from "ws";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createStore } from "zustand/vanilla";
import Hotstate, { type BoundState, type HotstateClient, type HotstateOptions } from "../../src/client.js";
import { recordingWebSocket } from "../helpers/recording-ws.js";
import { TodoServer } from "../helpers/server.js";
import { nextEvent, waitFor } from "../helpers/wait.js";

type Todo = { id: number; text: string; done: boolean };
type Todos = { items: Todo[] };
type Room = { name: string; messages: Array<{ from: string; text: string; ts: number }>; users: string[] };

let server: TodoServer;
const clients: HotstateClient[] = [];

const newClient = (opts: HotstateOptions = {}): HotstateClient => {
  const c = Hotstate({ WebSocket, ...opts });
  clients.push(c);
  return c;
};
const connected = async (opts: HotstateOptions = {}): Promise<HotstateClient> => {
  const c = newClient(opts);
  c.connect(server.url);
  await c.ready();
  return c;
};

beforeAll(async () => {
  server = await TodoServer.start();
});
afterEach(() => {
  for (const c of clients.splice(0)) c.destroy();
});
afterAll(async () => {
  await server.stop("SIGTERM");
});

describe("stores", () => {
  it("subscribes before connect and gets the snapshot once connected", async () => {
    const client = newClient();
    const seen: Todos[] = [];
    const todos = client.subscribe<Todos>("Todos", (s) => seen.push(s));
    const config = client.subscribe<{ theme: string }>("Config");
    expect(todos.hasData()).toBe(false);
    expect(todos.getState()).toBeUndefined();
    client.connect(server.url);
    await expect(config.ready()).resolves.toEqual({ theme: "dark" });
    const state = await todos.ready();
    expect(Array.isArray(state.items)).toBe(true);
    expect(todos.hasData()).toBe(true);
    expect(seen[0]).toBe(state);
  });

  it("connects at once when given a URL", async () => {
    const client = Hotstate(server.url, { WebSocket });
    clients.push(client);
    await client.ready();
    expect(client.status).toBe("connected");
    await waitFor(() => client.clientId, "hello");
  });

  it("applies patches after the snapshot, sharing unchanged items", async () => {
    const wire = recordingWebSocket();
    const reader = await connected({ WebSocket: wire.WebSocket });
    const writer = await connected();
    await writer.call("todos.add", { text: "first" });
    const todos = reader.subscribe<Todos>("Todos");
    const before = await todos.ready();
    const { id } = await writer.call<{ id: number }>("todos.add", { text: "second" });
    const after = await waitFor(() => todos.getState()!.items.some((t) => t.id === id) && todos.getState()!, "the patch");
    expect(after.items.at(-1)).toEqual({ id, text: "second", done: false });
    for (let i = 0; i < before.items.length; i++) expect(after.items[i]).toBe(before.items[i]);

    await writer.call("todos.toggle", { id });
    const toggled = await waitFor(() => todos.getState()!.items.find((t) => t.id === id && t.done) && todos.getState()!, "the toggle");
    expect(toggled.items.slice(0, -1).every((t, i) => t === after.items[i])).toBe(true);

    const frames = wire.received.filter((f) => "s" in f && f.s === "Todos").map((f) => f.t);
    expect(frames[0]).toBe(17);
    expect(frames.slice(1)).toEqual([18, 18]);
  });

  it("keeps handles on one store independent over one subscription", async () => {
    const wire = recordingWebSocket();
    const client = await connected({ WebSocket: wire.WebSocket });
    const writer = await connected();
    const a: Todos[] = [];
    const b: Todos[] = [];
    const ha = client.subscribe<Todos>("Todos", (s) => a.push(s));
    const hb = client.subscribe<Todos>("Todos", (s) => b.push(s));
    await Promise.all([ha.ready(), hb.ready()]);
    ha.unsubscribe();
    const { id } = await writer.call<{ id: number }>("todos.add", { text: "for b" });
    await waitFor(() => b.at(-1)?.items.some((t) => t.id === id), "b's update");
    expect(a).toHaveLength(1);
    expect(hb.getState()!.items.some((t) => t.id === id)).toBe(true);
    expect(wire.sent.filter((f) => f.t === 1 || f.t === 2)).toEqual([{ t: 1, s: "Todos" }]);
    hb.unsubscribe();
    await waitFor(() => wire.sent.some((f) => f.t === 2), "the unsub");
  });

  it("rejects ready and emits error for a missing store", async () => {
    const client = await connected();
    const errors: Error[] = [];
    client.on("error", (e: Error) => errors.push(e));
    const h = client.subscribe("Nope");
    await expect(h.ready()).rejects.toMatchObject({ code: "not_found", store: "Nope", message: 'store "Nope" not found' });
    expect(errors).toHaveLength(1);
    expect(h.hasData()).toBe(false);
    // The connection is still good.
    await expect(client.call("todos.add", { text: "still here" })).resolves.toHaveProperty("id");
  });

  it("subscribes to a family instance and sees chat messages", async () => {
    const client = await connected();
    const room = client.subscribe<Room>("Room:general");
    await expect(room.ready()).resolves.toMatchObject({ name: "general" });
    await client.call("room.send", { room: "general", text: "hello" });
    const msg = await waitFor(() => room.getState()!.messages.find((m) => m.text === "hello"), "the message");
    expect(msg.from).toBe(client.clientId);
    expect(typeof msg.ts).toBe("number");
  });

  it("fills a Zustand store", async () => {
    const client = newClient();
    const store = createStore<BoundState>(() => ({ status: "disconnected", stores: {} }));
    client.bindZustand(store);
    client.subscribe("Todos");
    client.subscribe("Config");
    client.connect(server.url);
    await waitFor(() => store.getState().stores["Config"], "Config in zustand");
    expect(store.getState().status).toBe("connected");
    expect(store.getState().stores["Config"]).toEqual({ theme: "dark" });
    expect(store.getState().stores["Todos"]).toHaveProperty("items");
  });
});

describe("functions", () => {
  it("resolves with the result", async () => {
    const client = await connected();
    const a = await client.call<{ id: number }>("todos.add", { text: "one" });
    const b = await client.call<{ id: number }>("todos.add", { text: "two" });
    expect(b.id).toBeGreaterThan(a.id);
    await expect(client.call("todos.toggle", { id: a.id })).resolves.toBeNull();
  });

  it("rejects with the handler's error", async () => {
    const client = await connected();
    const err = await client.call("todos.add", { text: "  " }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err).toMatchObject({ message: "text must not be empty", code: "error" });
  });

  it("rejects an unknown function", async () => {
    const client = await connected();
    await expect(client.call("no.such", {})).rejects.toMatchObject({ code: "unknown_function" });
  });

  it("rejects arguments of the wrong type", async () => {
    const client = await connected();
    await expect(client.call("todos.toggle", { id: "x" })).rejects.toMatchObject({ code: "bad_args" });
  });

  it("shows optimistic state and settles on the server's", async () => {
    const client = await connected();
    const todos = client.subscribe<Todos>("Todos");
    await todos.ready();
    const p = client.call<{ id: number }>("todos.add", { text: "optimistic" }, {
      store: "Todos",
      optimistic: (s: Todos) => ({ ...s, items: [...s.items, { id: -1, text: "optimistic", done: false }] }),
    });
    expect(todos.getState()!.items.at(-1)).toEqual({ id: -1, text: "optimistic", done: false });
    expect(todos.getServerState()!.items.some((t) => t.id === -1)).toBe(false);
    const { id } = await p;
    expect(todos.getState()).toBe(todos.getServerState());
    expect(todos.getState()!.items.filter((t) => t.text === "optimistic").map((t) => t.id)).toContain(id);
    expect(todos.getState()!.items.some((t) => t.id === -1)).toBe(false);
  });

  it("rolls optimistic state back when the call fails", async () => {
    const client = await connected();
    const todos = client.subscribe<Todos>("Todos");
    const before = await todos.ready();
    const seen: Todos[] = [];
    client.subscribe<Todos>("Todos", (s) => seen.push(s));
    const p = client.call("todos.add", { text: "" }, {
      store: "Todos",
      optimistic: (s: Todos) => ({ ...s, items: [...s.items, { id: -1, text: "", done: false }] }),
    });
    expect(todos.getState()!.items).toHaveLength(before.items.length + 1);
    await expect(p).rejects.toThrow("text must not be empty");
    expect(todos.getState()).toBe(before);
    expect(seen.at(-1)).toBe(before);
  });
});

describe("events", () => {
  it("broadcasts user.joined to every connection", async () => {
    const a = await connected();
    const seenByA: string[] = [];
    const seenByB: string[] = [];
    a.on("user.joined", (d: { id: string }) => seenByA.push(d.id));
    const b = newClient();
    b.on("user.joined", (d: { id: string }) => seenByB.push(d.id));
    b.connect(server.url);
    const id = await waitFor(() => b.clientId, "b's hello");
    await waitFor(() => seenByA.includes(id), "a hearing of b");
    await waitFor(() => seenByB.includes(id), "b hearing of itself");
  });

  it("stops listening when the returned function is called", async () => {
    const a = await connected();
    let count = 0;
    const off = a.on("user.joined", () => count++);
    off();
    const probe = nextEvent(a, "user.joined");
    await connected();
    await probe;
    expect(count).toBe(0);
  });

  it("emits connected, then disconnected on destroy, and stops for good", async () => {
    const client = newClient();
    const events: string[] = [];
    for (const ch of ["connected", "disconnected", "reconnecting"]) client.on(ch, () => events.push(ch));
    client.connect(server.url);
    await client.ready();
    const pending = client.call("todos.add", { text: "x" });
    client.destroy();
    await expect(pending).rejects.toThrow("Disconnected");
    expect(client.status).toBe("disconnected");
    expect(events).toEqual(["connected", "disconnected"]);
    await expect(client.call("todos.add", { text: "y" })).rejects.toThrow("Disconnected");
  });
});
