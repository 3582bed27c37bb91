// The todo example's web page in a real Chromium, against the real Go
// server serving it: two pages stay in sync, chat, and both come back
// after the server restarts. Screenshots land in test-artifacts/.
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, expect, inject, it } from "vitest";
import { artifacts, launch, type Browser } from "../helpers/browser.js";
import { TodoServer } from "../helpers/server.js";

const web = join(inject("repoRoot"), "examples/todo/web");

let server: TodoServer;
let browser: Browser;

beforeAll(async () => {
  if (!existsSync(join(web, "app.js"))) throw new Error("examples/todo/web/app.js is missing: run npm run build:web");
  server = await TodoServer.start({ web });
  browser = await launch();
});

afterAll(async () => {
  await browser?.close();
  await server?.stop("SIGTERM");
});

async function open(): Promise<Page> {
  const page = await browser.context.newPage();
  const errors: string[] = [];
  page.on("pageerror", (err) => errors.push(err.message));
  await page.goto(server.httpUrl);
  await page.locator('.status[data-status="connected"]').waitFor();
  await page.locator(".todos .empty, .todos ul").first().waitFor();
  expect(errors).toEqual([]);
  return page;
}

// A committed todo: while a call is answered, its optimistic entry (class
// "pending") may show beside the one the server's change brought.
const todo = (page: Page, text: string) => page.locator(".todos li:not(.pending)", { hasText: text });

it("syncs two pages, chats, and reconnects after a server restart", async () => {
  const [a, b] = [await open(), await open()];

  // Add in one page, see it in the other.
  await a.fill('input[name="todo"]', "Buy milk");
  await a.press('input[name="todo"]', "Enter");
  await todo(b, "Buy milk").waitFor();
  expect(await todo(b, "Buy milk").locator("input").isChecked()).toBe(false);

  // Toggle in one page, see it checked in the other.
  // A background tab gets no animation frames, which Playwright's click
  // waits for.
  await a.bringToFront();
  await todo(a, "Buy milk").locator('input[type="checkbox"]:not([disabled])').click();
  await b.locator(".todos li.done", { hasText: "Buy milk" }).waitFor();
  expect(await todo(b, "Buy milk").locator("input").isChecked()).toBe(true);

  // Chat.
  await b.fill('input[name="message"]', "Hello from B");
  await b.click('.chat button[type="submit"]');
  await a.locator(".messages li", { hasText: "Hello from B" }).waitFor();
  await b.locator(".messages li.mine", { hasText: "Hello from B" }).waitFor();

  // An empty todo is refused by the server: the optimistic row rolls back.
  await a.fill('input[name="todo"]', "   ");
  await a.press('input[name="todo"]', "Enter");
  await a.locator(".todos .error", { hasText: "text must not be empty" }).waitFor();
  expect(await a.locator(".todos li").count()).toBe(1);

  await a.screenshot({ path: join(artifacts, "1-page-a-synced.png") });
  await b.screenshot({ path: join(artifacts, "1-page-b-synced.png") });

  // Restart the server: both pages reconnect on their own.
  const connects = async (page: Page) =>
    page.evaluate(() => {
      const w = window as unknown as { hotstate: { on(ch: string, fn: () => void): void }; reconnects: number };
      w.reconnects = 0;
      w.hotstate.on("connected", () => w.reconnects++);
    });
  await connects(a);
  await connects(b);
  await server.stop();
  await a.locator('.status:not([data-status="connected"])').waitFor();
  await b.locator('.status:not([data-status="connected"])').waitFor();
  await a.screenshot({ path: join(artifacts, "2-page-a-server-down.png") });
  await server.start();
  for (const page of [a, b]) {
    await page.waitForFunction(() => (window as unknown as { reconnects: number }).reconnects >= 1, undefined, { timeout: 30_000 });
    await page.locator('.status[data-status="connected"]').waitFor();
    // The new server process starts empty, and the pages show its state.
    await page.locator(".todos .empty", { hasText: "Nothing to do." }).waitFor();
    await page.waitForFunction(() => document.querySelectorAll(".messages li").length === 0);
  }

  // And they sync again.
  await b.fill('input[name="todo"]', "After restart");
  await b.press('input[name="todo"]', "Enter");
  await todo(a, "After restart").waitFor();
  await a.fill('input[name="message"]', "Back online");
  await a.click('.chat button[type="submit"]');
  await b.locator(".messages li", { hasText: "Back online" }).waitFor();

  await a.screenshot({ path: join(artifacts, "3-page-a-reconnected.png") });
  await b.screenshot({ path: join(artifacts, "3-page-b-reconnected.png") });
});
