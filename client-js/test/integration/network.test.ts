// The client against the real server when the network misbehaves: a TCP
// proxy in between holds the server's bytes, cuts connections or delays
// them; the server itself is killed and started again.
import WebSocket from "ws";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import Hotstate, { type HotstateClient, type HotstateOptions } from "../../src/client.js";
import { Proxy } from "../helpers/proxy.js";
import { recordingWebSocket } from "../helpers/recording-ws.js";
import { TodoServer } from "../helpers/server.js";
import { nextEvent, waitFor } from "../helpers/wait.js";

type Todo = { id: number; text: string; done: boolean };
type Todos = { items: Todo[] };

const fast: HotstateOptions = { WebSocket, reconnectDelayMs: 20, reconnectMaxMs: 200 };

let server: TodoServer;
let proxy: Proxy | undefined;
const clients: HotstateClient[] = [];
const newClient = (opts: HotstateOptions = {}): HotstateClient => {
  const c = Hotstate({ ...fast, ...opts });
  clients.push(c);
  return c;
};

beforeAll(async () => {
  server = await TodoServer.start();
});
afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  await proxy?.close();
  proxy = undefined;
});
afterAll(async () => {
  await server.stop("SIGTERM");
});

describe("through a proxy", () => {
  it("shows optimistic state over a slow link until every answer is in", async () => {
    proxy = await Proxy.start(server.port);
    const client = newClient();
    const todos = client.subscribe<Todos>("Todos");
    client.connect(proxy.url);
    const before = await todos.ready();
    proxy.delayMs = 150;
    const texts = ["s1", "s2", "s3", "s4", "s5"];
    const calls = texts.map((text, i) =>
      client.call<{ id: number }>("todos.add", { text }, {
        store: "Todos",
        optimistic: (s: Todos) => ({ items: [...s.items, { id: -1 - i, text, done: false }] }),
      }),
    );
    expect(todos.getState()!.items.slice(before.items.length).map((t) => t.id)).toEqual([-1, -2, -3, -4, -5]);
    expect(todos.getServerState()).toBe(before);
    const ids = (await Promise.all(calls)).map((r) => r.id);
    const items = todos.getState()!.items;
    expect(todos.getState()).toBe(todos.getServerState());
    // The server runs calls concurrently: the items may land in any order.
    const landed = Object.fromEntries(items.filter((t) => texts.includes(t.text)).map((t) => [t.text, t.id]));
    expect(landed).toEqual(Object.fromEntries(texts.map((text, i) => [text, ids[i]])));
    expect(items.some((t) => t.id < 0)).toBe(false);
  });

  it("rejects with RPC timeout when the server stops answering, and rolls back", async () => {
    proxy = await Proxy.start(server.port);
    const client = newClient({ rpcTimeoutMs: 300 });
    const todos = client.subscribe<Todos>("Todos");
    client.connect(proxy.url);
    const before = await todos.ready();
    proxy.pause();
    const started = Date.now();
    const p = client.call("todos.add", { text: "never answered" }, {
      store: "Todos",
      optimistic: (s: Todos) => ({ items: [...s.items, { id: -1, text: "never answered", done: false }] }),
    });
    expect(todos.getState()!.items.at(-1)!.id).toBe(-1);
    const err = await p.catch((e: Error) => e);
    expect(err).toMatchObject({ message: "RPC timeout", code: "timeout" });
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(todos.getState()).toBe(before);
    // The held answer arrives late and changes nothing but the server state.
    proxy.resume();
    await waitFor(() => todos.getState()!.items.some((t) => t.text === "never answered"), "the server's patch");
    expect(client.status).toBe("connected");
  });

  it("rejects calls in flight with Disconnected when the connection drops, then reconnects", async () => {
    proxy = await Proxy.start(server.port);
    const client = newClient({ rpcTimeoutMs: 5000 });
    const todos = client.subscribe<Todos>("Todos");
    client.connect(proxy.url);
    await todos.ready();
    const events: string[] = [];
    for (const ch of ["disconnected", "reconnecting", "connected"]) client.on(ch, () => events.push(ch));
    proxy.pause();
    let rejections = 0;
    const p = client
      .call("todos.add", { text: "lost" }, {
        store: "Todos",
        optimistic: (s: Todos) => ({ items: [...s.items, { id: -1, text: "lost", done: false }] }),
      })
      .catch((e: Error) => {
        rejections++;
        return e;
      });
    const started = Date.now();
    proxy.cut();
    proxy.resume();
    const err = await p;
    expect(err).toMatchObject({ message: "Disconnected", code: "disconnected" });
    expect(Date.now() - started).toBeLessThan(5000);
    expect(todos.getState()!.items.some((t) => t.id === -1)).toBe(false);
    await waitFor(() => client.status === "connected", "reconnection");
    expect(events.slice(0, 2)).toEqual(["disconnected", "reconnecting"]);
    expect(events.at(-1)).toBe("connected");
    await expect(client.call("todos.add", { text: "after" })).resolves.toHaveProperty("id");
    expect(rejections).toBe(1);
  });

  it("resumes with {s, e, v} and receives the patches it missed", async () => {
    proxy = await Proxy.start(server.port);
    const wire = recordingWebSocket();
    const client = newClient({ WebSocket: wire.WebSocket });
    const todos = client.subscribe<Todos>("Todos");
    client.connect(proxy.url);
    await todos.ready();
    const writer = newClient();
    writer.connect(server.url);
    // Make sure the reader holds the latest version before the cut.
    const { id: marker } = await writer.call<{ id: number }>("todos.add", { text: "marker" });
    await waitFor(() => todos.getState()!.items.some((t) => t.id === marker), "the marker");
    const snap = wire.received.findLast((f) => f.t === 17 && f.s === "Todos");
    const last = wire.received.findLast((f) => (f.t === 17 || f.t === 18) && f.s === "Todos") as { e: string; v: number };

    proxy.pausedUp = true; // the reader cannot reconnect until resumed
    proxy.cut();
    await waitFor(() => client.status !== "connected", "the cut");
    const { id } = await writer.call<{ id: number }>("todos.add", { text: "missed" });
    await writer.call("todos.toggle", { id });
    wire.received.length = 0;
    wire.sent.length = 0;
    proxy.resume();

    const state = await waitFor(() => todos.getState()!.items.find((t) => t.id === id && t.done) && todos.getState(), "the missed patches");
    expect(state.items.find((t) => t.id === id)).toEqual({ id, text: "missed", done: true });
    expect(wire.sent.find((f) => f.t === 1)).toEqual({ t: 1, s: "Todos", e: last.e, v: last.v });
    const kinds = wire.received.filter((f) => "s" in f && f.s === "Todos").map((f) => f.t);
    expect(kinds).toEqual([18, 18]); // patches, no snapshot
    expect(snap).toBeDefined();
  });

  it("takes a snapshot when the epoch it resumes from is gone", async () => {
    proxy = await Proxy.start(server.port);
    const wire = recordingWebSocket();
    const client = newClient({ WebSocket: wire.WebSocket });
    const room = client.subscribe<{ messages: Array<{ text: string }> }>("Room:resume");
    client.connect(proxy.url);
    await client.ready();
    await client.call("room.send", { room: "resume", text: "before" });
    await waitFor(() => room.getState()?.messages.length === 1, "the message");
    // With its only subscriber gone the room resets (OnIdle): a new epoch.
    proxy.pausedUp = true;
    proxy.cut();
    await waitFor(() => client.status !== "connected", "the cut");
    wire.received.length = 0;
    proxy.resume();
    await waitFor(() => wire.received.some((f) => f.t === 17 && f.s === "Room:resume"), "a snapshot");
    expect(room.getState()!.messages).toEqual([]);
  });
});

describe("server restart", () => {
  it("reconnects on its own and shows the new server's state", async () => {
    const own = await TodoServer.start();
    try {
      const client = newClient();
      const todos = client.subscribe<Todos>("Todos");
      const room = client.subscribe<{ messages: unknown[] }>("Room:general");
      client.connect(own.url);
      await todos.ready();
      await client.call("todos.add", { text: "from the old server" });
      await waitFor(() => todos.getState()!.items.length === 1, "the todo");
      await client.call("room.send", { room: "general", text: "hi" });
      await waitFor(() => room.getState()!.messages.length === 1, "the message");
      const oldEpochState = todos.getState();

      const reconnecting = nextEvent(client, "reconnecting");
      const disconnected = nextEvent(client, "disconnected");
      await own.stop();
      await disconnected;
      await reconnecting;
      const pending = client.call("todos.add", { text: "while down" }).catch((e: Error) => e);
      const again = nextEvent(client, "connected", 15_000);
      await own.start();
      await again;
      // The new process starts empty; its truth replaces what the client held.
      await waitFor(() => todos.getState() !== oldEpochState && room.getState()!.messages.length === 0, "the new state");
      // The call made while the server was down went out on reconnect.
      const res = await pending;
      expect(res).toEqual({ id: 1 });
      await waitFor(() => todos.getState()!.items.length === 1, "the new todo");
      expect(todos.getState()!.items[0]).toEqual({ id: 1, text: "while down", done: false });
    } finally {
      await own.stop();
    }
  });

  it("backs off between attempts while the server is down", async () => {
    const own = await TodoServer.start();
    try {
      const client = newClient({ reconnectDelayMs: 50, reconnectMaxMs: 400 });
      const retries: Array<{ attempt: number; delayMs: number }> = [];
      client.on("reconnecting", (r) => retries.push(r));
      client.connect(own.url);
      await client.ready();
      await own.stop();
      await waitFor(() => retries.length >= 5, "five attempts", 15_000);
      retries.forEach((r, i) => {
        expect(r.attempt).toBe(i + 1);
        expect(r.delayMs).toBeGreaterThanOrEqual(0);
        expect(r.delayMs).toBeLessThanOrEqual(Math.min(400, 50 * 2 ** i));
      });
      await own.start();
      await waitFor(() => client.status === "connected", "the reconnection", 15_000);
    } finally {
      await own.stop();
    }
  });
});
