// The Vue composables on a page against the real todo server, rendered
// with h() so that no template compiler is needed. What the test cannot
// see in the DOM it reads from window.probe.
import Hotstate from "hotstate/client";
import { useCall, useEvent, useStatus, useStore } from "hotstate/vue";
import { createApp, defineComponent, h, isReactive, ref, version } from "vue";

type Todos = { items: Array<{ id: number; text: string; done: boolean }> };
type Room = { name: string; messages: Array<{ from: string; text: string; ts: number }> };

const url = new URL("/ws", location.href);
url.protocol = "ws:";
const client = Hotstate(url.href, { reconnectDelayMs: 100, reconnectMaxMs: 500 });

const probe = { vue: version, pending: [] as boolean[], reactive: [] as boolean[], todos: [] as unknown[] };

const App = defineComponent({
  setup() {
    const todos = useStore<Todos>(client, "Todos");
    const room = ref("general");
    const messages = useStore(client, () => `Room:${room.value}`, (s: Room | undefined) => s?.messages);
    const status = useStatus(client);
    const add = useCall<{ id: number }, { text: string }>(client, "todos.add");
    const joined = ref<string[]>([]);
    useEvent(client, "user.joined", (d: { id: string }) => joined.value.push(d.id));
    const text = ref("");
    Object.assign(window, { room, todosRef: todos });

    return () => {
      probe.pending.push(add.pending.value);
      if (todos.value) {
        probe.reactive.push(isReactive(todos.value));
        if (probe.todos.at(-1) !== todos.value) probe.todos.push(todos.value);
      }
      return h("div", [
        h("p", { class: "version" }, version),
        h("p", { class: "status", "data-status": status.value }, status.value),
        h("p", { class: "count" }, String(todos.value?.items.length ?? "")),
        h(
          "form",
          {
            class: "adder",
            onSubmit: (e: Event) => {
              e.preventDefault();
              // Not awaited: a refusal must show as error, not as an unhandled rejection.
              void add.call({ text: text.value });
            },
          },
          [
            h("input", { name: "todo", value: text.value, onInput: (e: Event) => (text.value = (e.target as HTMLInputElement).value) }),
            h("button", { type: "submit" }, "Add"),
            add.error.value ? h("p", { class: "call-error" }, add.error.value.message) : null,
            add.data.value ? h("p", { class: "added" }, String(add.data.value.id)) : null,
          ],
        ),
        h(
          "ul",
          { class: "messages", "data-room": room.value },
          (messages.value ?? []).map((m) => h("li", m.text)),
        ),
        h(
          "ul",
          { class: "joined" },
          joined.value.map((id) => h("li", id)),
        ),
      ]);
    };
  },
});

const app = createApp(App);
app.mount("#root");
Object.assign(window, { client, probe, unmount: () => app.unmount() });
