// The client against two real examples/todo servers sharing their stores
// through a private Redis (-redis): what one client does through one node,
// a client of the other node sees, events included, and a node that
// crashes and comes back serves the cluster's state to its clients.
import WebSocket from "ws";
import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import Hotstate, { type HotstateClient } from "../../src/client.js";
import { RedisServer } from "../helpers/redis.js";
import { TodoServer } from "../helpers/server.js";
import { waitFor } from "../helpers/wait.js";

type Todo = { id: number; text: string; done: boolean };
type Todos = { items: Todo[] };
type Room = { name: string; messages: Array<{ from: string; text: string; ts: number }>; users: string[] };

let redis: RedisServer;
let nodes: TodoServer[];
const clients: HotstateClient[] = [];

const connected = async (url: string): Promise<HotstateClient> => {
  const c = Hotstate({ WebSocket, reconnectDelayMs: 50 });
  clients.push(c);
  c.connect(url);
  await c.ready();
  return c;
};

beforeAll(async () => {
  redis = await RedisServer.start();
  nodes = [];
  for (let i = 0; i < 2; i++) nodes.push(await TodoServer.start({ args: ["-redis", redis.url] }));
});
afterEach(() => {
  for (const c of clients.splice(0)) c.destroy();
});
afterAll(async () => {
  for (const n of nodes ?? []) await n.stop("SIGTERM");
  await redis?.stop();
});

it("shows a change made through one node to a client of the other", async () => {
  const [a, b] = [await connected(nodes[0]!.url), await connected(nodes[1]!.url)];
  const todosB = b.subscribe<Todos>("Todos");
  await todosB.ready();
  const { id } = await a.call<{ id: number }>("todos.add", { text: "across nodes" });
  await waitFor(() => todosB.getState()?.items.some((t) => t.id === id && t.text === "across nodes"), "the todo on the other node");
  await b.call("todos.toggle", { id });
  const todosA = a.subscribe<Todos>("Todos");
  await waitFor(() => todosA.getState()?.items.find((t) => t.id === id)?.done === true, "the toggle on the first node");
});

it("keeps ids unique when both nodes add at once", async () => {
  const [a, b] = [await connected(nodes[0]!.url), await connected(nodes[1]!.url)];
  const adds = [];
  for (let i = 0; i < 20; i++) {
    adds.push(a.call<{ id: number }>("todos.add", { text: `a${i}` }), b.call<{ id: number }>("todos.add", { text: `b${i}` }));
  }
  const ids = (await Promise.all(adds)).map((r) => r.id);
  expect(new Set(ids).size).toBe(ids.length);
  const todos = a.subscribe<Todos>("Todos");
  await waitFor(() => ids.every((id) => todos.getState()?.items.some((t) => t.id === id)), "every todo added");
});

it("keeps one order of chat messages on every node", async () => {
  const [a, b] = [await connected(nodes[0]!.url), await connected(nodes[1]!.url)];
  const roomA = a.subscribe<Room>("Room:cluster");
  const roomB = b.subscribe<Room>("Room:cluster");
  await Promise.all([roomA.ready(), roomB.ready()]);
  const sends = [];
  for (let i = 0; i < 10; i++) {
    sends.push(a.call("room.send", { room: "cluster", text: `a${i}` }), b.call("room.send", { room: "cluster", text: `b${i}` }));
  }
  await Promise.all(sends);
  const texts = (r: Room | undefined) => (r?.messages ?? []).map((m) => m.text);
  await waitFor(() => texts(roomA.getState()).length === 20 && texts(roomB.getState()).length === 20, "twenty messages on both nodes");
  expect(texts(roomA.getState())).toEqual(texts(roomB.getState()));
});

it("hears events emitted on the other node", async () => {
  const a = await connected(nodes[0]!.url);
  const joined: string[] = [];
  a.on("user.joined", (d: { id: string }) => joined.push(d.id));
  const b = await connected(nodes[1]!.url);
  await waitFor(() => joined.includes(b.clientId!), "user.joined from the other node");
});

it("serves what changed meanwhile once a crashed node is back", async () => {
  const a = await connected(nodes[0]!.url);
  const b = await connected(nodes[1]!.url);
  const todosA = a.subscribe<Todos>("Todos");
  await todosA.ready();
  await nodes[1]!.stop("SIGKILL");
  const { id } = await a.call<{ id: number }>("todos.add", { text: "after the crash" });
  await waitFor(() => todosA.getState()?.items.some((t) => t.id === id), "the todo added while the other node was down");
  await nodes[1]!.start();
  await b.ready();
  const todosB = b.subscribe<Todos>("Todos");
  await waitFor(() => todosB.getState()?.items.some((t) => t.id === id), "the todo on the restarted node");
});
