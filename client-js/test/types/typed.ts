// The typed client, compiled against the built package by `npm run
// typecheck:dist` with the todo example's generated schema
// (examples/todo/web/schema.ts, from `go run ./examples/todo -gen-ts`).
// Every @ts-expect-error line must fail to compile, or the check fails:
// misspelled stores, functions, arguments and events are caught.
import Hotstate, { type BoundState, type HotstateClient, type StoreHandle, type TypedClient } from "hotstate/client";
import * as react from "hotstate/react";
import * as vue from "hotstate/vue";
import WebSocket from "ws";
import { create } from "zustand";
import type { Item, Schema as Shapes } from "../../../core/tsgen/testdata/shapes.js";
import type { AddResult, Joined, Message, Room, Schema, Todos } from "../../../examples/todo/web/schema.js";
// Frames of the wire's golden vectors, which the Go and JS tests share: the
// values they carry fit the generated types.
import evt from "../../../core/testdata/protocol/evt.json" with { type: "json" };
import res from "../../../core/testdata/protocol/res.json" with { type: "json" };
import rpc from "../../../core/testdata/protocol/rpc.json" with { type: "json" };
import snap from "../../../core/testdata/protocol/snap.json" with { type: "json" };

const client = Hotstate<Schema>({ WebSocket });
const direct: TypedClient<Schema> = Hotstate<Schema>("ws://localhost:4400", { WebSocket });
const untyped: HotstateClient = Hotstate({ WebSocket });

export const golden: [Todos, Schema["functions"]["todos.add"]["args"], AddResult, Joined] = [snap.d, rpc.a, res.r, evt.d];

// The generator's golden output (core/tsgen/testdata/shapes.ts): what the
// wire sends for its Item fits it, and what it leaves out is optional.
export const item: Item = {
  created: "2026-01-02T03:04:05Z",
  id: "9007199254740993",
  count: 1,
  small: 2,
  name: null,
  blob: null,
  byKey: { "1": { created: "", id: "1", count: 0, small: 0, name: "x", blob: "AAE=", byKey: null, pair: [0, 0], any: null, "a-b": null, inline: { x: false } } },
  pair: [1, 2],
  any: { anything: true },
  "a-b": { k: [1, null] },
  inline: { x: true },
};
// @ts-expect-error: a ",string" id is a string
export const numericId: Item = { ...item, id: 1 };
export const shapes = (c: TypedClient<Shapes>): Promise<number> => c.call("add", { text: "x" });

export async function usage(): Promise<void> {
  const todos: StoreHandle<Todos> = client.subscribe("Todos", (t) => t.items.map((i) => i.text));
  const room: StoreHandle<Room> = client.subscribe("Room:general", (r) => r.messages.length);
  const state: Todos = await todos.ready();
  const messages: Message[] | undefined = client.getState("Room:general")?.messages;
  const { id }: AddResult = await client.call("todos.add", { text: "Buy milk" });
  const n: number = id;
  await client.call("todos.toggle", { id: 1 });
  await client.call("todos.add", { text: "New" }, {
    store: "Todos",
    optimistic: (s) => ({ ...s, items: [...s.items, { id: -1, text: "New", done: false }] }),
  });
  const who: string = await client.call("whoami");
  const off: () => void = client.on("user.joined", (d) => d.id.toUpperCase());
  client.on("disconnected", ({ code, reason }) => [code, reason]);
  client.on("error", (err) => err.message);
  client.on("storeDeleted", (name) => name.length);

  // @ts-expect-error: no store Todoz
  client.subscribe("Todoz");
  // @ts-expect-error: no family Rooms:*
  client.subscribe("Rooms:general");
  // @ts-expect-error: a store's state is its own type
  const wrong: StoreHandle<Room> = client.subscribe("Todos");
  // @ts-expect-error: no function todos.ad
  await client.call("todos.ad", { text: "x" });
  // @ts-expect-error: the argument is text, not txt
  await client.call("todos.add", { txt: "x" });
  // @ts-expect-error: text is a string
  await client.call("todos.add", { text: 1 });
  // @ts-expect-error: todos.add needs its arguments
  await client.call("todos.add");
  // @ts-expect-error: the result is an AddResult
  const bad: string = await client.call("todos.add", { text: "x" });
  await client.call("todos.add", { text: "x" }, {
    store: "Todos",
    // @ts-expect-error: the optimistic function returns the store's state
    optimistic: (s) => s.items,
  });
  // @ts-expect-error: no store Todoz to be optimistic about
  await client.call("todos.add", { text: "x" }, { store: "Todoz", optimistic: (s) => s });
  // @ts-expect-error: no event user.joind
  client.on("user.joind", () => {});
  // @ts-expect-error: user.joined carries an id, not a name
  client.on("user.joined", (d) => d.name);

  // The untyped client is as it was: any name, types by hand.
  untyped.subscribe("Todoz");
  const r: { id: number } = await untyped.call<{ id: number }>("todos.ad", { txt: 1 });
  void [state, room, messages, n, who, off, wrong, bad, r, direct];
}

const useApp = create<BoundState<Schema>>(() => ({ status: "disconnected", stores: {} }));
client.bindZustand(useApp);
export const items: Todos["items"] | undefined = useApp.getState().stores.Todos?.items;
export const general: Room | undefined = useApp.getState().stores["Room:general"];

export function Hooks(): void {
  const todos: Todos | undefined = react.useStore(client, "Todos");
  const count: number = react.useStore(client, "Todos", (t) => t?.items.length ?? 0);
  const room: Room = react.useSuspenseStore(client, "Room:general");
  const names: string[] = react.useSuspenseStore(client, "Todos", (t) => t.items.map((i) => i.text), react.shallow);
  const add = react.useCall(client, "todos.add");
  void add.call({ text: "x" }).then((r: AddResult) => r.id);
  void add.call({ text: "x" }, { store: "Todos", optimistic: (s) => ({ ...s, items: [] }) });
  const data: AddResult | undefined = add.data;
  const whoami = react.useCall(client, "whoami");
  void whoami.call();
  react.useEvent(client, "user.joined", (d) => d.id);
  react.usePresence(client, "Room:general");
  react.useStatus(client);
  // @ts-expect-error: no store Todoz
  react.useStore(client, "Todoz");
  // @ts-expect-error: no store Todoz
  react.useSuspenseStore(client, "Todoz");
  // @ts-expect-error: no function todos.ad
  react.useCall(client, "todos.ad");
  // @ts-expect-error: the argument is text
  void add.call({ txt: "x" });
  // @ts-expect-error: no event user.joind
  react.useEvent(client, "user.joind", () => {});
  void [todos, count, room, names, data];
}

export function setup(): void {
  const todos = vue.useStore(client, "Todos");
  const n: number | undefined = todos.value?.items.length;
  const first = vue.useStore(client, () => "Room:general" as const, (r) => r?.messages[0]);
  const m: Message | undefined = first.value;
  const add = vue.useCall(client, "todos.add");
  void add.call({ text: "x" }).then((r) => r.id);
  const data: AddResult | undefined = add.data.value;
  vue.useEvent(client, "user.joined", (d) => d.id);
  vue.usePresence(client, "Room:general");
  vue.useStatus(client);
  // @ts-expect-error: no store Todoz
  vue.useStore(client, "Todoz");
  // @ts-expect-error: no function todos.ad
  vue.useCall(client, "todos.ad");
  // @ts-expect-error: the argument is text
  void add.call({ txt: "x" });
  // @ts-expect-error: no event user.joind
  vue.useEvent(client, "user.joind", () => {});
  void [n, m, data];
}
