// The typed client, Hotstate<Schema>(), against the real Go todo server
// with the schema generated from it (examples/todo/web/schema.ts): the
// same client at run time, and values whose keys are the generated types'.
import WebSocket from "ws";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { AddResult, Joined, Room, Schema, Todo } from "../../../examples/todo/web/schema.js";
import Hotstate, { type TypedClient } from "../../src/client.js";
import { TodoServer } from "../helpers/server.js";
import { waitFor } from "../helpers/wait.js";

let server: TodoServer;

beforeAll(async () => {
  server = await TodoServer.start();
});
afterAll(async () => {
  await server.stop("SIGTERM");
});

// keysOf lists what a value of a generated interface holds, so a field the
// generator named wrongly fails here as well as at compile time.
const keysOf = (v: object): string[] => Object.keys(v).sort();

it("subscribes, calls and listens by the generated names and types", async () => {
  const client: TypedClient<Schema> = Hotstate<Schema>(server.url, { WebSocket });
  try {
    const joined: Joined[] = [];
    client.on("user.joined", (d) => joined.push(d));
    const todos = client.subscribe("Todos");
    const room = client.subscribe("Room:typed");
    await todos.ready();
    const r: Room = await room.ready();
    expect(keysOf(r)).toEqual(["messages", "name", "users"]);

    const res: AddResult = await client.call(
      "todos.add",
      { text: "typed" },
      { store: "Todos", optimistic: (s) => ({ ...s, items: [...s.items, { id: -1, text: "typed", done: false }] }) },
    );
    expect(keysOf(res)).toEqual(["id"]);
    const item: Todo = await waitFor(() => todos.getState()?.items.find((t) => t.id === res.id), "the new todo");
    expect(keysOf(item)).toEqual(["done", "id", "text"]);

    await client.call("room.send", { room: "typed", text: "hi" });
    const msg = await waitFor(() => client.getState("Room:typed")?.messages[0], "the message");
    expect(keysOf(msg)).toEqual(["from", "text", "ts"]);
    expect(typeof msg.ts).toBe("number");

    // Another connection makes the server emit user.joined to everyone.
    const other = Hotstate<Schema>(server.url, { WebSocket });
    await other.ready();
    const j = await waitFor(() => joined.find((x) => x.id === other.clientId), "user.joined");
    expect(keysOf(j)).toEqual(["id"]);
    other.destroy();
  } finally {
    client.destroy();
  }
});
