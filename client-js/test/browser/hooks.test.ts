// The React hooks (with React 19 and React 18) and the Vue composables in
// Chromium, on pages built from dist/ and served by the real Go todo
// server. A second client in Node plays the other user.
import { join } from "node:path";
import type { Page } from "playwright-core";
import WebSocket from "ws";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import Hotstate, { type HotstateClient } from "../../src/client.js";
import { artifacts, buildPages, launch, watch, type Browser } from "../helpers/browser.js";
import { TodoServer } from "../helpers/server.js";
import { waitFor } from "../helpers/wait.js";

let server: TodoServer;
let browser: Browser;
let pages: { dir: string; remove(): void };
const others: HotstateClient[] = [];

beforeAll(async () => {
  pages = await buildPages([
    { name: "react19", source: "react.tsx" },
    { name: "react18", source: "react.tsx", alias: { react: "react18", "react-dom": "react-dom18" } },
    { name: "vue", source: "vue.ts" },
  ]);
  server = await TodoServer.start({ web: pages.dir });
  browser = await launch();
});
afterEach(() => {
  for (const c of others.splice(0)) c.destroy();
});
afterAll(async () => {
  await browser?.close();
  await server?.stop("SIGTERM");
  pages?.remove();
});

/** other connects a client from Node and waits for its id. */
async function other(): Promise<{ client: HotstateClient; id: string }> {
  const client = Hotstate(server.url, { WebSocket });
  others.push(client);
  return { client, id: await waitFor(() => client.clientId, "the other client's hello") };
}

async function open(name: string): Promise<{ page: Page; problems: string[] }> {
  const page = await browser.context.newPage();
  const problems = watch(page);
  await page.goto(`${server.httpUrl}${name}.html`);
  await page.locator('.status[data-status="connected"]').waitFor();
  return { page, problems };
}

const probe = <T>(page: Page, expr: string): Promise<T> => page.evaluate(`window.probe.${expr}`) as Promise<T>;

/** expected drops what Chromium itself logs while the server is down. */
const expected = (problems: string[]): string[] => problems.filter((p) => !p.includes("ERR_CONNECTION_REFUSED"));

/** restartServer stops the server until the page shows it lost the connection, then starts it again. */
async function restartServer(page: Page): Promise<void> {
  await server.stop();
  await page.locator('.status:not([data-status="connected"])').waitFor();
  await server.start();
  await page.locator('.status[data-status="connected"]').waitFor({ timeout: 20_000 });
}

for (const [name, major] of [
  ["react19", "19."],
  ["react18", "18."],
] as const) {
  describe(name, () => {
    it("renders stores, calls, events and status through the hooks", async () => {
      const { page, problems } = await open(name);
      expect(await page.locator(".version").textContent()).toMatch(new RegExp(`^${major}`));

      // useSuspenseStore: a fallback until the room's first snapshot, then
      // the messages; a store the server refuses reaches the error boundary.
      await page.locator('.messages[data-room="suspense"]').waitFor({ state: "attached" });
      expect(await probe<number>(page, "fallbacks")).toBeGreaterThan(0);
      await page.locator(".boundary", { hasText: 'store "Nope" not found' }).waitFor();

      // useCall: pending while in flight, then the result.
      await page.fill('input[name="todo"]', `Buy milk ${name}`);
      await page.press('input[name="todo"]', "Enter");
      const id = await page.locator(".added").textContent();
      expect(Number(id)).toBeGreaterThan(0);
      const pending = await probe<boolean[]>(page, "pending");
      expect(pending).toContain(true);
      expect(pending.at(-1)).toBe(false);
      const total = await page.locator(".todos li").count();
      expect(await page.locator(".shallow-count").textContent()).toBe(String(total));
      expect(await page.locator(".plain-count").textContent()).toBe(String(total));

      // A selector that builds an object: with shallow equality a change
      // that keeps the counts does not re-render, without it it does.
      const before = await probe<{ shallow: number; plain: number }>(page, "renders");
      await page.locator(".todos li button", { hasText: `Buy milk ${name}` }).click();
      await page.locator(".todos li.done", { hasText: `Buy milk ${name}` }).waitFor();
      await page.waitForFunction((n) => (window as any).probe.renders.plain > n, before.plain);
      expect((await probe<{ shallow: number }>(page, "renders")).shallow).toBe(before.shallow);

      // A refused call: its error, and no unhandled rejection (checked below).
      await page.fill('input[name="todo"]', "   ");
      await page.press('input[name="todo"]', "Enter");
      await page.locator(".call-error", { hasText: "text must not be empty" }).waitFor();
      expect(await page.locator(".added").count()).toBe(0);

      // useEvent, listening once though StrictMode mounts effects twice.
      const { id: joined } = await other();
      await page.locator(".joined li", { hasText: joined }).waitFor();
      expect(await page.locator(".joined li", { hasText: joined }).count()).toBe(1);

      // Once mounted, the component holds the store itself: the
      // subscription its suspended render started does not outlive it for
      // the 5 s it would be held for an abandoned render.
      await page.uncheck('input[name="room"]');
      await page.waitForFunction(() => (window as any).client.getState("Room:suspense") === undefined, undefined, { timeout: 3000 });

      // useStatus follows the connection through a server restart.
      await restartServer(page);
      const statuses = await probe<string[]>(page, "statuses");
      expect(statuses).toContain("reconnecting");
      expect(statuses.at(-1)).toBe("connected");
      // The new server process starts empty.
      await page.waitForFunction(() => document.querySelectorAll(".todos li").length === 0);

      await page.screenshot({ path: join(artifacts, `hooks-${name}.png`) });
      // The refusal of "Nope" is logged by React itself, as it logs every
      // error an error boundary catches.
      expect(expected(problems).filter((p) => !p.includes('store "Nope" not found') && !p.includes("error boundary"))).toEqual([]);
      await page.close();
    });
  });
}

describe("vue", () => {
  it("keeps shallowRefs of stores, calls, events and status", async () => {
    const { page, problems } = await open("vue");
    expect(await page.locator(".version").textContent()).toMatch(/^3\./);
    await page.locator(".count").filter({ hasText: /\d/ }).waitFor();
    const count = Number(await page.locator(".count").textContent());

    // useCall.
    await page.fill('input[name="todo"]', "From Vue");
    await page.press('input[name="todo"]', "Enter");
    const id = Number(await page.locator(".added").textContent());
    expect(id).toBeGreaterThan(0);
    await page.locator(".count", { hasText: String(count + 1) }).waitFor();
    const pending = await probe<boolean[]>(page, "pending");
    expect(pending).toContain(true);
    expect(pending.at(-1)).toBe(false);
    await page.fill('input[name="todo"]', "");
    await page.press('input[name="todo"]', "Enter");
    await page.locator(".call-error", { hasText: "text must not be empty" }).waitFor();
    expect(await page.locator(".added").count()).toBe(0);

    // The ref holds the client's immutable state as it is: not made
    // reactive, and a change keeps the identity of what it did not touch.
    const { client } = await other();
    await client.call("todos.toggle", { id });
    await page.waitForFunction(
      (id) => (window as any).todosRef.value.items.find((t: { id: number }) => t.id === id).done,
      id,
    );
    const shared = await page.evaluate(() => {
      const [a, b] = (window as any).probe.todos.slice(-2) as Array<{ items: Array<{ id: number }> }>;
      return a!.items.map((t, i) => t === b!.items[i]);
    });
    expect(shared.filter((same) => !same)).toHaveLength(1);
    expect(await probe<boolean[]>(page, "reactive")).not.toContain(true);

    // A store name from a ref: switching rooms subscribes anew and drops
    // the old room.
    await client.call("room.send", { room: "other", text: "hello other" });
    await page.evaluate(() => ((window as any).room.value = "other"));
    await page.locator('.messages[data-room="other"] li', { hasText: "hello other" }).waitFor();
    await page.waitForFunction(() => (window as any).client.getState("Room:general") === undefined);

    // useEvent.
    const { id: joined } = await other();
    await page.locator(".joined li", { hasText: joined }).waitFor();

    // useStatus.
    await restartServer(page);

    await page.screenshot({ path: join(artifacts, "hooks-vue.png") });
    // Unmounting the app ends its subscriptions.
    await page.evaluate(() => (window as any).unmount());
    await page.waitForFunction(() => (window as any).client.getState("Todos") === undefined);
    expect(expected(problems)).toEqual([]);
    await page.close();
  });
});
