// The client against a real Go server that refuses subscriptions: the
// examples/jstest server with a per-connection rate limit (subs past the
// burst get err rate_limited) and an Allow rule the tests switch off. A
// client holding as many stores as the server allows must get every one
// back after a reconnect, and a store refused for good must say so.
import WebSocket from "ws";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import Hotstate, { type HotstateClient, type HotstateError, type HotstateOptions, type StoreHandle } from "../../src/client.js";
import { Proxy } from "../helpers/proxy.js";
import { recordingWebSocket } from "../helpers/recording-ws.js";
import { TodoServer } from "../helpers/server.js";
import { nextEvent, waitFor } from "../helpers/wait.js";

type Counter = { n: number };

// The server's default limit of subscriptions per connection.
const MAX_SUBS = 128;
const RATE = ["-rate", "100", "-burst", "20"];

let server: TodoServer;
let proxy: Proxy | undefined;
const clients: HotstateClient[] = [];
const newClient = (opts: HotstateOptions = {}): HotstateClient => {
  const c = Hotstate({ WebSocket, reconnectDelayMs: 20, reconnectMaxMs: 1000, ...opts });
  clients.push(c);
  return c;
};
const names = (prefix: string, n: number): string[] => Array.from({ length: n }, (_, i) => `S:${prefix}-${i}`);

/** cutAndHold drops the client's connection and keeps it from reconnecting until proxy.resume(). */
async function cutAndHold(client: HotstateClient): Promise<void> {
  const lost = nextEvent(client, "disconnected");
  proxy!.pausedUp = true;
  proxy!.cut();
  await lost;
}

beforeAll(async () => {
  server = await TodoServer.start({ program: "jstestServer", args: RATE });
});
afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  await proxy?.close();
  proxy = undefined;
});
afterAll(async () => {
  await server.stop("SIGTERM");
});

describe("under a rate limit", () => {
  it("subscribes to as many stores as the server allows at once", async () => {
    const wire = recordingWebSocket();
    const client = newClient({ WebSocket: wire.WebSocket });
    const errors: unknown[] = [];
    client.on("error", (e) => errors.push(e));
    const handles = names("first", MAX_SUBS).map((n) => client.subscribe<Counter>(n));
    client.connect(server.url);
    const states = await Promise.all(handles.map((h) => h.ready()));
    expect(states.every((s) => s.n >= 0)).toBe(true);
    expect(wire.received.filter((f) => f.t === 22).every((f) => f.x.c === "rate_limited")).toBe(true);
    expect(wire.received.some((f) => f.t === 22)).toBe(true); // the limit was reached
    expect(errors).toEqual([]);
  });

  it("gets every store back after a reconnect, with the changes it missed", async () => {
    proxy = await Proxy.start(server.port);
    const wire = recordingWebSocket();
    const client = newClient({ WebSocket: wire.WebSocket });
    const errors: unknown[] = [];
    client.on("error", (e) => errors.push(e));
    client.connect(proxy.url);
    await client.ready();
    // Subscribed within the burst, so that only the resumes meet the limit.
    const handles: Array<StoreHandle<Counter>> = [];
    for (const chunk of Array.from({ length: MAX_SUBS / 16 }, (_, i) => names(`resume${i}`, 16))) {
      const hs = chunk.map((n) => client.subscribe<Counter>(n));
      await Promise.all(hs.map((h) => h.ready()));
      handles.push(...hs);
      await new Promise((r) => setTimeout(r, 200)); // the bucket refills
    }
    expect(wire.received.some((f) => f.t === 22)).toBe(false);
    const before = handles.map((h) => h.getState()!.n);

    await cutAndHold(client);
    const writer = newClient();
    writer.connect(server.url);
    expect(await writer.call<number>("bump")).toBeGreaterThanOrEqual(MAX_SUBS);
    wire.received.length = 0;
    proxy.resume();

    const behind = (h: StoreHandle<Counter>, i: number) => h.getState()!.n !== before[i]! + 1;
    await waitFor(() => !handles.some(behind), "every store's missed change", 20_000);
    const refused = wire.received.filter((f) => f.t === 22);
    expect(refused.length).toBeGreaterThan(0); // resumes past the burst were refused, and asked again
    expect(refused.every((f) => f.x.c === "rate_limited")).toBe(true);
    expect(errors).toEqual([]);
    expect(handles.every((h) => h.getError() === undefined)).toBe(true);
    // Still live: the next change reaches every store.
    await writer.call("bump");
    await waitFor(() => handles.every((h, i) => h.getState()!.n === before[i]! + 2), "the next change", 10_000);
  });
});

describe("refused for good", () => {
  it("ends the handles whose resume the server forbids, though they had data", async () => {
    proxy = await Proxy.start(server.port);
    const client = newClient();
    const errors: HotstateError[] = [];
    client.on("error", (e) => errors.push(e));
    const stores = names("deny", 3);
    const handles = stores.map((n) => client.subscribe<Counter>(n));
    client.connect(proxy.url);
    await Promise.all(handles.map((h) => h.ready()));

    await cutAndHold(client);
    const admin = newClient();
    admin.connect(server.url);
    await admin.call("allow", { on: false });
    try {
      proxy.resume();
      await waitFor(() => errors.length === stores.length, "an error event per store");
      expect(errors.map((e) => e.store).sort()).toEqual([...stores].sort());
      const results = await Promise.all(handles.map((h) => h.ready().then(() => "resolved", (e: unknown) => e)));
      results.forEach((err, i) => expect(err).toMatchObject({ code: "forbidden", store: stores[i] }));
      expect(handles.map((h) => h.getError())).toEqual(results);
      expect(client.status).toBe("connected");
    } finally {
      await admin.call("allow", { on: true });
    }
    // The connection lives on, and a new handle asks the server again.
    const again = client.subscribe<Counter>(stores[0]!);
    await expect(again.ready()).resolves.toHaveProperty("n");
  });
});
