// Token authentication against the real examples/todo server started with
// -tokens: its identity hook reads ?token= and refuses unknown tokens with
// 401; whoami returns the user the server took the connection for.
import WebSocket from "ws";
import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import Hotstate, { type HotstateClient, type HotstateOptions } from "../../src/client.js";
import { TodoServer } from "../helpers/server.js";
import { nextEvent, waitFor } from "../helpers/wait.js";

let server: TodoServer;
const clients: HotstateClient[] = [];

/** dialed is the ws constructor, noting every URL the client dials. */
function dialed(): { WebSocket: typeof WebSocket; urls: string[] } {
  const urls: string[] = [];
  const Ctor = class extends WebSocket {
    constructor(url: string) {
      super(url);
      urls.push(url);
    }
  } as typeof WebSocket;
  return { WebSocket: Ctor, urls };
}

const newClient = (opts: HotstateOptions): HotstateClient => {
  const c = Hotstate({ WebSocket, reconnectDelayMs: 20, reconnectMaxMs: 200, ...opts });
  clients.push(c);
  return c;
};

beforeAll(async () => {
  server = await TodoServer.start({ args: ["-tokens", "alice=tok-a,bob=tok-b"] });
});
afterEach(() => {
  for (const c of clients.splice(0)) c.destroy();
});
afterAll(async () => {
  await server.stop("SIGTERM");
});

it("asks getToken again for every reconnection and the server takes the new token", async () => {
  const wire = dialed();
  // A refused token first: the 401 fails the attempt, and the retry must
  // ask again rather than offer the same token.
  let token = "expired";
  let asked = 0;
  const getToken = async () => {
    asked++;
    const t = token;
    if (t === "expired") token = "tok-a";
    return t;
  };
  const client = newClient({ WebSocket: wire.WebSocket, getToken });
  const todos = client.subscribe("Todos");
  client.connect(server.url);
  await todos.ready();
  expect(wire.urls).toEqual([`${server.url}?token=expired`, `${server.url}?token=tok-a`]);
  await expect(client.call("whoami")).resolves.toBe("alice");

  // The token changes while the connection is up (it was renewed); the
  // reconnections after the restart, refused ones included, use the new one.
  token = "tok-b";
  const back = nextEvent(client, "connected", 20_000);
  await server.restart();
  await back;
  await expect(client.call("whoami")).resolves.toBe("bob");
  expect(asked).toBe(wire.urls.length);
  expect(wire.urls.slice(2).every((u) => u === `${server.url}?token=tok-b`)).toBe(true);
  await waitFor(() => todos.hasData() && client.getState("Todos"), "Todos after the reconnection");
});

it("builds each attempt's URL with a URL function", async () => {
  let asked = 0;
  const client = newClient({});
  client.connect(() => `${server.url}?token=${++asked === 1 ? "tok-b" : "tok-a"}`);
  await client.ready();
  await expect(client.call("whoami")).resolves.toBe("bob");
  const back = nextEvent(client, "connected", 20_000);
  await server.restart();
  await back;
  await expect(client.call("whoami")).resolves.toBe("alice");
});

it("is refused without a token the server knows", async () => {
  const client = newClient({ reconnect: false });
  client.connect(server.url);
  await expect(client.ready()).rejects.toMatchObject({ code: "disconnected" });
  expect(client.status).toBe("disconnected");
});
