// Compiled against the built package (dist/ through the exports map) by
// `npm run typecheck:dist`: the README's client code must type-check as a
// user would write it.
import Root from "hotstate";
import Hotstate, { HotstateError, type BoundState, type Status, type StoreHandle } from "hotstate/client";
import { shallow, useCall, useEvent, useStatus, useStore, useSubscription, useSuspenseStore } from "hotstate/react";
import * as vue from "hotstate/vue";
import WebSocket from "ws";
import { create } from "zustand";

type Todos = { items: Array<{ id: number; text: string; done: boolean }> };

const client = Hotstate({ reconnect: true, reconnectDelayMs: 1000, reconnectMaxMs: 10000, rpcTimeoutMs: 10000, WebSocket });
const direct = Hotstate("ws://localhost:4400", { WebSocket });
const browser = Hotstate({ WebSocket: globalThis.WebSocket });
const authed = Root({ WebSocket, getToken: async () => "token" });
const signed = Hotstate(async () => "ws://localhost:4400/ws?sig=x", { WebSocket, getToken: () => null });
const useApp = create<BoundState>(() => ({ status: "disconnected", stores: {} }));
const unbind: () => void = client.bindZustand(useApp);

export async function usage(): Promise<void> {
  const todos: StoreHandle<Todos> = client.subscribe<Todos>("Todos", (state) => state.items.length);
  client.connect("ws://localhost:4400");
  await client.ready();
  const state: Todos = await todos.ready();
  const view: Todos | undefined = todos.getState();
  todos.getServerState();
  todos.hasData();
  const { id } = await client.call<{ id: number }>("todos.add", { text: "Buy milk" });
  await client.call(
    "todos.add",
    { text: "New" },
    {
      store: "Todos",
      optimistic: (s: Todos) => ({ ...s, items: [...s.items, { id: -1, text: "New", done: false }] }),
    },
  );
  const off: () => void = client.on("user.joined", ({ id }: { id: string }) => id);
  client.on("error", (err: HotstateError) => err.code);
  off();
  todos.unsubscribe();
  unbind();
  client.destroy();
  direct.destroy();
  browser.destroy();
  void [state, view, id, useStore<Todos>(client, "Todos")?.items, useSubscription(client, "Config")];
  void useStore(client, "Todos", (s: Todos | undefined) => s?.items);
  const off2: () => void = authed.onStatus((s: Status) => s);
  off2();
  authed.connect(() => "ws://localhost:4400/ws");
  signed.destroy();
}

export function Hooks(): void {
  const counts: { total: number } = useStore(client, "Todos", (s: Todos | undefined) => ({ total: s?.items.length ?? 0 }), shallow);
  const items: Todos["items"] = useSuspenseStore(client, "Todos", (s: Todos) => s.items);
  const whole: Todos = useSuspenseStore<Todos>(client, "Todos");
  const { call, pending, error, data, reset } = useCall<{ id: number }, { text: string }>(client, "todos.add");
  void call({ text: "x" }, { store: "Todos", optimistic: (s: Todos) => s }).then((r: { id: number }) => r.id);
  useEvent(client, "user.joined", (d: { id: string }) => d.id);
  const status: Status = useStatus(client);
  reset();
  void [counts, items, whole, pending, error, data, status];
}

export function setup(): void {
  const todos = vue.useStore<Todos>(client, "Todos");
  const n: number | undefined = todos.value?.items.length;
  const room = vue.useStore(client, () => "Room:general", (s: { messages: string[] } | undefined) => s?.messages, (a, b) => a === b);
  const add = vue.useCall<{ id: number }, { text: string }>(client, "todos.add");
  const pending: boolean = add.pending.value;
  void add.call({ text: "x" }).then((r) => r.id);
  vue.useEvent(client, "user.joined", (d: { id: string }) => d.id);
  const status: Status = vue.useStatus(client).value;
  void [n, room.value, pending, add.error.value, add.data.value, status];
}
