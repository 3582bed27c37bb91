// Presence and events to one store's members, against the real Go server
// (examples/jstest: the family S:* lists its members by client id in
// presence:S:<key>, and the function shout emits to one instance's
// subscribers).
import WebSocket from "ws";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import Hotstate, { type HotstateClient } from "../../src/client.js";
import { TodoServer } from "../helpers/server.js";
import { waitFor } from "../helpers/wait.js";

let server: TodoServer;
const clients: HotstateClient[] = [];
const newClient = (): HotstateClient => {
  const c = Hotstate({ WebSocket, reconnectDelayMs: 20 });
  clients.push(c);
  c.connect(server.url);
  return c;
};

beforeAll(async () => {
  server = await TodoServer.start({ program: "jstestServer", args: ["-heartbeat", "300ms"] });
});
afterEach(() => {
  for (const c of clients.splice(0)) c.destroy();
});
afterAll(async () => {
  await server?.stop();
});

describe("presence", () => {
  it("lists the members of a store as they come and go", async () => {
    const watcher = newClient();
    const list = watcher.subscribe("presence:S:room");
    await list.ready();
    expect(list.getState()).toEqual({});

    const member = newClient();
    const room = member.subscribe("S:room");
    await room.ready();
    // The id the server listed the member by arrives with its hello.
    const id = await waitFor(() => member.clientId, "the member's hello");
    await waitFor(() => (list.getState() as Record<string, unknown>)[id] !== undefined, "the member listed");
    expect(list.getState()).toEqual({ [id]: { id } });

    room.unsubscribe();
    await waitFor(() => Object.keys(list.getState() as object).length === 0, "the member gone");
  });

  it("sends an event to the members of one store only", async () => {
    const inside = newClient();
    const outside = newClient();
    await inside.subscribe("S:a").ready();
    await outside.subscribe("S:b").ready();
    const heardInside: unknown[] = [];
    const heardOutside: unknown[] = [];
    inside.on("shout", (d) => heardInside.push(d));
    outside.on("shout", (d) => heardOutside.push(d));
    await inside.call("shout", { key: "a", text: "hello a" });
    await outside.call("shout", { key: "b", text: "hello b" });
    await waitFor(() => heardInside.length === 1 && heardOutside.length === 1, "both events");
    expect(heardInside[0]).toMatchObject({ text: "hello a" });
    expect(heardOutside[0]).toMatchObject({ text: "hello b" });
  });
});
