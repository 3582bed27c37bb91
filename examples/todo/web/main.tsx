// The todo example's web page: a todo list and the "general" chat room,
// kept in sync by hotstate. Built into app.js by `npm run build:web` in
// client-js.
import Hotstate, { type BoundState } from "hotstate/client";
import { useStore } from "hotstate/react";
import { useState, type FormEvent } from "react";
import { createRoot } from "react-dom/client";
import { create } from "zustand";
// The server's types, generated from its Go types by `go generate
// ./examples/todo`; a test fails when they are stale.
import type { Schema } from "./schema.js";

const client = Hotstate<Schema>({ reconnectDelayMs: 250, reconnectMaxMs: 3000 });
const useConnection = create<BoundState<Schema>>(() => ({ status: "disconnected", stores: {} }));
client.bindZustand(useConnection);
const url = new URL("/ws", location.href);
url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
client.connect(url.href);
// Handy from the console, and for the browser test.
(window as unknown as { hotstate: typeof client }).hotstate = client;

let tempId = 0;

function useError(): [string, (err: unknown) => void] {
  const [error, setError] = useState("");
  return [error, (err) => setError(err instanceof Error ? err.message : String(err))];
}

function TodoList() {
  const todos = useStore(client, "Todos");
  const [text, setText] = useState("");
  const [error, fail] = useError();

  const add = (e: FormEvent) => {
    e.preventDefault();
    const id = --tempId;
    client
      .call("todos.add", { text }, {
        store: "Todos",
        optimistic: (s) => ({ ...s, items: [...s.items, { id, text: text.trim(), done: false }] }),
      })
      .then(() => fail(""), fail);
    setText("");
  };

  const toggle = (id: number) => {
    client
      .call("todos.toggle", { id }, {
        store: "Todos",
        optimistic: (s) => ({ ...s, items: s.items.map((t) => (t.id === id ? { ...t, done: !t.done } : t)) }),
      })
      .catch(fail);
  };

  return (
    <section className="todos">
      <h2>Todos</h2>
      <form onSubmit={add}>
        <input type="text" name="todo" placeholder="What needs doing?" value={text} onChange={(e) => setText(e.target.value)} />
        <button type="submit">Add</button>
      </form>
      <p className="error" role="alert">{error}</p>
      {!todos ? (
        <p className="empty">Loading…</p>
      ) : todos.items.length === 0 ? (
        <p className="empty">Nothing to do.</p>
      ) : (
        <ul>
          {todos.items.map((t) => (
            <li key={t.id} className={(t.done ? "done " : "") + (t.id < 0 ? "pending" : "")} data-id={t.id}>
              <input type="checkbox" checked={t.done} disabled={t.id < 0} onChange={() => toggle(t.id)} aria-label={t.text} />
              <span>{t.text}</span>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

function Chat({ room }: { room: string }) {
  const state = useStore(client, `Room:${room}`);
  const [text, setText] = useState("");
  const [error, fail] = useError();

  const send = (e: FormEvent) => {
    e.preventDefault();
    client.call("room.send", { room, text }).then(() => fail(""), fail);
    setText("");
  };

  return (
    <section className="chat">
      <h2>Room: {room}</h2>
      <ul className="messages">
        {state?.messages.map((m, i) => (
          <li key={i} className={m.from === client.clientId ? "mine" : ""}>
            <span className="from">
              {m.from === client.clientId ? "you" : m.from} · {new Date(m.ts).toLocaleTimeString()}
            </span>
            {m.text}
          </li>
        ))}
      </ul>
      <p className="error" role="alert">{error}</p>
      <form onSubmit={send}>
        <input type="text" name="message" placeholder="Say something" value={text} onChange={(e) => setText(e.target.value)} />
        <button type="submit">Send</button>
      </form>
    </section>
  );
}

function App() {
  const status = useConnection((s) => s.status);
  return (
    <>
      <header>
        <h1>hotstate todos</h1>
        <span className="status" data-status={status}>
          <span className="dot" />
          {status}
        </span>
      </header>
      <main>
        <TodoList />
        <Chat room="general" />
      </main>
    </>
  );
}

createRoot(document.getElementById("root")!).render(<App />);
