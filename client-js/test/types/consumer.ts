// Compiled against the built package (dist/ through the exports map) by
// `npm run typecheck:dist`: the README's client code must type-check as a
// user would write it.
import Hotstate, { HotstateError, type BoundState, type StoreHandle } from "hotstate/client";
import { useStore, useSubscription } from "hotstate/react";
import WebSocket from "ws";
import { create } from "zustand";

type Todos = { items: Array<{ id: number; text: string; done: boolean }> };

const client = Hotstate({ reconnect: true, reconnectDelayMs: 1000, reconnectMaxMs: 10000, rpcTimeoutMs: 10000, WebSocket });
const direct = Hotstate("ws://localhost:4400", { WebSocket });
const browser = Hotstate({ WebSocket: globalThis.WebSocket });
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
}
