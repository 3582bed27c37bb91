// The React hooks on a page, under StrictMode, against the real todo
// server. Built twice by the browser test: with React 19 and with React 18.
// What the test cannot see in the DOM it reads from window.probe.
import Hotstate from "hotstate/client";
import { shallow, useCall, useEvent, useStatus, useStore, useSuspenseStore } from "hotstate/react";
import { Component, StrictMode, Suspense, useState, version, type FormEvent, type ReactNode } from "react";
import { createRoot } from "react-dom/client";

type Todos = { items: Array<{ id: number; text: string; done: boolean }> };
type Room = { name: string; messages: Array<{ from: string; text: string; ts: number }> };

const url = new URL("/ws", location.href);
url.protocol = "ws:";
const client = Hotstate(url.href, { reconnectDelayMs: 100, reconnectMaxMs: 500 });

const probe = {
  react: version,
  renders: { shallow: 0, plain: 0 },
  fallbacks: 0,
  pending: [] as boolean[],
  statuses: [] as string[],
};
Object.assign(window, { client, probe });

// Two counters from one selector that builds an object: with shallow the
// component re-renders only when a count changes, without it on every
// change of the store.
const counts = (s: Todos | undefined) => ({ total: s?.items.length ?? 0 });

function ShallowCount() {
  const { total } = useStore(client, "Todos", counts, shallow);
  probe.renders.shallow++;
  return <p className="shallow-count">{total}</p>;
}

function PlainCount() {
  const { total } = useStore(client, "Todos", counts);
  probe.renders.plain++;
  return <p className="plain-count">{total}</p>;
}

function TodoList() {
  const items = useStore(client, "Todos", (s: Todos | undefined) => s?.items);
  const toggle = useCall(client, "todos.toggle");
  return (
    <ul className="todos">
      {items?.map((t) => (
        <li key={t.id} className={t.done ? "done" : ""}>
          <button type="button" onClick={() => toggle.call({ id: t.id })}>
            {t.text}
          </button>
        </li>
      ))}
    </ul>
  );
}

function Adder() {
  const { call, pending, error, data } = useCall<{ id: number }, { text: string }>(client, "todos.add");
  const [text, setText] = useState("");
  probe.pending.push(pending);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    // Not awaited: a refusal must show as error, not as an unhandled rejection.
    void call({ text });
  };
  return (
    <form className="adder" onSubmit={submit}>
      <input name="todo" value={text} onChange={(e) => setText(e.target.value)} />
      <button type="submit">Add</button>
      {error && <p className="call-error">{error.message}</p>}
      {data && <p className="added">{data.id}</p>}
    </form>
  );
}

function Messages({ room }: { room: string }) {
  const messages = useSuspenseStore(client, `Room:${room}`, (s: Room) => s.messages);
  return (
    <ul className="messages" data-room={room}>
      {messages.map((m, i) => (
        <li key={i}>{m.text}</li>
      ))}
    </ul>
  );
}

function Fallback() {
  probe.fallbacks++;
  return <p className="fallback">Loading…</p>;
}

class Boundary extends Component<{ children: ReactNode }, { error?: Error }> {
  override state: { error?: Error } = {};
  static getDerivedStateFromError(error: Error) {
    return { error };
  }
  override render() {
    return this.state.error ? <p className="boundary">{this.state.error.message}</p> : this.props.children;
  }
}

function Joined() {
  const [ids, setIds] = useState<string[]>([]);
  useEvent(client, "user.joined", (d: { id: string }) => setIds((x) => [...x, d.id]));
  return (
    <ul className="joined">
      {ids.map((id, i) => (
        <li key={i}>{id}</li>
      ))}
    </ul>
  );
}

function Status() {
  const status = useStatus(client);
  if (probe.statuses.at(-1) !== status) probe.statuses.push(status);
  return <p className="status" data-status={status}>{status}</p>;
}

function App() {
  const [showRoom, setShowRoom] = useState(true);
  return (
    <>
      <p className="version">{version}</p>
      <Status />
      <ShallowCount />
      <PlainCount />
      <TodoList />
      <Adder />
      <Joined />
      <label>
        <input type="checkbox" name="room" checked={showRoom} onChange={(e) => setShowRoom(e.target.checked)} /> room
      </label>
      {showRoom && (
        <Suspense fallback={<Fallback />}>
          <Messages room="suspense" />
        </Suspense>
      )}
      <Boundary>
        <Suspense fallback={<Fallback />}>
          <Missing />
        </Suspense>
      </Boundary>
    </>
  );
}

function Missing() {
  const s = useSuspenseStore(client, "Nope");
  return <p>{JSON.stringify(s)}</p>;
}

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
