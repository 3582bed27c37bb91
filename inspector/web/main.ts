// The inspector's page: it subscribes to the server's system stores
// "$inspect" and "$inspect.timeline" with the hotstate client and renders
// them as plain HTML. Bundled into ../page/app.js by
// client-js/scripts/build-inspector.mjs; a test fails when that is stale.
import Hotstate from "hotstate/client";

interface Engine {
  type: string;
  appends: number;
  avgMs: number;
  maxMs: number;
  conflicts: number;
  errors: number;
}
interface StoreRow {
  name: string;
  store: string;
  epoch: string;
  version: number;
  subscribers: number;
  bytes: number;
  rate: number;
}
interface SessionRow {
  id: string;
  addr: string;
  identity: string;
  inspector: boolean;
  subs: string[];
  queue: number;
  in: number;
  out: number;
  inRate: number;
  outRate: number;
}
interface PresenceRow {
  store: string;
  members: { key: string; meta: unknown }[];
}
interface NodeRow {
  id: string;
  host: string;
  pid: number;
  self: boolean;
  sessions: number;
  instances: number;
  rttMs: number;
}
interface Overview {
  engine: Engine;
  nodes: NodeRow[];
  stores: StoreRow[];
  sessions: SessionRow[];
  presence: PresenceRow[];
  actions: boolean;
}
interface Entry {
  id: number;
  at: number;
  kind: "change" | "call" | "event" | "connect" | "disconnect";
  store?: string;
  function?: string;
  client?: string;
  code?: string;
  ms?: number;
  version?: number;
  bytes?: number;
}

const client = Hotstate({ reconnectDelayMs: 250, reconnectMaxMs: 3000 });
// The page's own query (a token, say) authorises its WebSocket too.
const url = new URL("ws" + location.search, location.href);
url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
client.connect(url.href);
(window as unknown as { hotstate: typeof client }).hotstate = client;

const $ = <E extends Element>(sel: string): E => document.querySelector<E>(sel)!;
const esc = (s: unknown): string =>
  String(s ?? "").replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const bytes = (n: number): string =>
  n < 1024 ? `${n} B` : n < 1 << 20 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / (1 << 20)).toFixed(1)} MiB`;
const time = (ms: number): string => new Date(ms).toISOString().slice(11, 23);

let overview: Overview | undefined;
let entries: Entry[] = [];
let scheduled = false;

function schedule(): void {
  if (scheduled) return;
  scheduled = true;
  requestAnimationFrame(() => {
    scheduled = false;
    render();
  });
}

client.subscribe<Overview>("$inspect", (o) => {
  overview = o;
  schedule();
});
client.subscribe<{ entries: Entry[] }>("$inspect.timeline", (t) => {
  entries = t.entries;
  schedule();
});
client.onStatus((s) => {
  const el = $<HTMLElement>("#status");
  el.textContent = s;
  el.dataset.status = s;
});
client.on("error", (err: Error) => {
  $<HTMLElement>("#error").textContent = err.message;
});

function table(head: string[], rows: string[], empty: string): string {
  if (rows.length === 0) return `<p class="empty">${empty}</p>`;
  // A heading starting with "#" heads a column of numbers.
  const th = head.map((h) => (h.startsWith("#") ? `<th class="num">${h.slice(1)}</th>` : `<th>${h}</th>`));
  return `<table><thead><tr>${th.join("")}</tr></thead><tbody>${rows.join("")}</tbody></table>`;
}

function action(name: string, arg: string, label: string): string {
  return overview?.actions
    ? `<button data-action="${esc(name)}" data-arg="${esc(arg)}">${label}</button>`
    : "";
}

function render(): void {
  const o = overview;
  if (o) {
    const e = o.engine;
    $("#engine").innerHTML =
      `<b>${esc(e.type)}</b> · ${e.appends} appends · avg ${e.avgMs} ms · max ${e.maxMs} ms · ` +
      `<span class="${e.conflicts ? "warn" : ""}">${e.conflicts} conflicts</span> · ` +
      `<span class="${e.errors ? "bad" : ""}">${e.errors} errors</span>`;
    $("#nodes").innerHTML = table(
      ["Node", "Host", "#PID", "#Sessions", "#Instances", "#Engine round trip"],
      o.nodes.map(
        (n) =>
          `<tr class="${n.self ? "here" : ""}"><td class="mono">${esc(n.id)}${n.self ? " (this page's)" : ""}</td>` +
          `<td>${esc(n.host)}</td><td class="num">${n.pid}</td><td class="num">${n.sessions}</td>` +
          `<td class="num">${n.instances}</td><td class="num">${n.rttMs} ms</td></tr>`,
      ),
      "No node answered yet.",
    );
    $("#stores").innerHTML = table(
      ["Instance", "Store", "Epoch", "#Version", "#Subscribers", "#Size", "#Changes/s", ""],
      o.stores.map(
        (s) =>
          `<tr data-store="${esc(s.name)}"><td class="name">${esc(s.name)}</td><td>${esc(s.store)}</td>` +
          `<td class="mono">${esc(s.epoch)}</td><td class="num version">${s.version}</td>` +
          `<td class="num">${s.subscribers}</td><td class="num">${bytes(s.bytes)}</td><td class="num">${s.rate}</td>` +
          `<td>${action("$inspect.reset", s.name, "reset")}${action("$inspect.delete", s.name, "delete")}</td></tr>`,
      ),
      "No store instances.",
    );
    $("#sessions").innerHTML = table(
      ["Client", "Address", "Identity", "Subscriptions", "#Queue", "#In", "#Out", "#In/s", "#Out/s", ""],
      o.sessions.map(
        (s) =>
          `<tr data-client="${esc(s.id)}" class="${s.inspector ? "self" : ""}"><td class="mono">${esc(s.id)}</td>` +
          `<td>${esc(s.addr)}</td><td>${esc(s.identity)}</td><td>${s.subs.map(esc).join(", ")}</td>` +
          `<td class="num">${bytes(s.queue)}</td><td class="num">${s.in}</td><td class="num">${s.out}</td>` +
          `<td class="num">${s.inRate}</td><td class="num">${s.outRate}</td>` +
          `<td>${s.inspector ? "" : action("$inspect.disconnect", s.id, "disconnect")}</td></tr>`,
      ),
      "No sessions.",
    );
    $("#presence").innerHTML = table(
      ["Instance", "Members"],
      o.presence.map(
        (p) =>
          `<tr><td class="name">${esc(p.store)}</td><td>${
            p.members.map((m) => `<span class="member" title="${esc(JSON.stringify(m.meta))}">${esc(m.key)}</span>`).join(" ") || "—"
          }</td></tr>`,
      ),
      "No store tracks presence.",
    );
  }
  const store = $<HTMLInputElement>("#f-store").value.trim();
  const fn = $<HTMLInputElement>("#f-function").value.trim();
  const cl = $<HTMLInputElement>("#f-client").value.trim();
  const shown = entries
    .filter(
      (e) =>
        (!store || (e.store ?? "").includes(store)) &&
        (!fn || (e.function ?? "").includes(fn)) &&
        (!cl || (e.client ?? "").includes(cl)),
    )
    .slice()
    .reverse();
  $("#timeline").innerHTML = table(
    ["Time", "Kind", "Store", "Function / event", "Client", "Result", "Detail"],
    shown.map(
      (e) =>
        `<tr class="kind-${e.kind}"><td class="mono">${time(e.at)}</td><td>${e.kind}</td><td>${esc(e.store)}</td>` +
        `<td>${esc(e.function)}</td><td class="mono">${esc(e.client)}</td>` +
        `<td class="${e.code && e.code !== "ok" ? "bad" : ""}">${esc(e.code)}</td><td>${detail(e)}</td></tr>`,
    ),
    "Nothing yet.",
  );
}

function detail(e: Entry): string {
  switch (e.kind) {
    case "change":
      return `v${e.version ?? 0} · ${bytes(e.bytes ?? 0)}`;
    case "call":
      return `${e.ms ?? 0} ms`;
    default:
      return "";
  }
}

for (const id of ["#f-store", "#f-function", "#f-client"]) $(id).addEventListener("input", schedule);
document.addEventListener("click", (ev) => {
  const b = (ev.target as Element).closest<HTMLButtonElement>("button[data-action]");
  if (!b) return;
  const { action: name, arg } = b.dataset;
  if (!confirm(`${name!.replace("$inspect.", "")} ${arg}?`)) return;
  client.call(name!, arg).catch((err: Error) => {
    $<HTMLElement>("#error").textContent = err.message;
  });
});
