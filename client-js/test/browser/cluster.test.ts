// The todo example's web page in a real Chromium, two pages on two servers
// that share their stores through a private Redis: the pages stay in sync
// across nodes, chat, and a restarted node gives its page back the
// cluster's state. Screenshots land in test-artifacts/.
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, expect, inject, it } from "vitest";
import { artifacts, launch, type Browser } from "../helpers/browser.js";
import { RedisServer } from "../helpers/redis.js";
import { TodoServer } from "../helpers/server.js";

const web = join(inject("repoRoot"), "examples/todo/web");

let redis: RedisServer;
let nodes: TodoServer[] = [];
let browser: Browser;

beforeAll(async () => {
  if (!existsSync(join(web, "app.js"))) throw new Error("examples/todo/web/app.js is missing: run npm run build:web");
  redis = await RedisServer.start();
  for (let i = 0; i < 2; i++) nodes.push(await TodoServer.start({ web, args: ["-redis", redis.url] }));
  browser = await launch();
});

afterAll(async () => {
  await browser?.close();
  for (const n of nodes) await n.stop("SIGTERM");
  await redis?.stop();
});

async function open(node: TodoServer): Promise<Page> {
  const page = await browser.context.newPage();
  const errors: string[] = [];
  page.on("pageerror", (err) => errors.push(err.message));
  await page.goto(node.httpUrl);
  await page.locator('.status[data-status="connected"]').waitFor();
  await page.locator(".todos .empty, .todos ul").first().waitFor();
  expect(errors).toEqual([]);
  return page;
}

// A committed todo: while a call is answered, its optimistic entry (class
// "pending") may show beside the one the server's change brought.
const todo = (page: Page, text: string) => page.locator(".todos li:not(.pending)", { hasText: text });

it("syncs two pages on two nodes, and a restarted node serves the cluster's state", async () => {
  const [a, b] = [await open(nodes[0]!), await open(nodes[1]!)];

  await a.fill('input[name="todo"]', "Across nodes");
  await a.press('input[name="todo"]', "Enter");
  await todo(b, "Across nodes").waitFor();

  await b.bringToFront();
  await todo(b, "Across nodes").locator('input[type="checkbox"]:not([disabled])').click();
  await a.locator(".todos li.done", { hasText: "Across nodes" }).waitFor();

  await b.fill('input[name="message"]', "Hello from node 2");
  await b.click('.chat button[type="submit"]');
  await a.locator(".messages li", { hasText: "Hello from node 2" }).waitFor();
  await a.screenshot({ path: join(artifacts, "cluster-1-page-a.png") });
  await b.screenshot({ path: join(artifacts, "cluster-1-page-b.png") });

  // Node 2 crashes; what page A adds meanwhile is there when it is back.
  await nodes[1]!.stop();
  await b.locator('.status:not([data-status="connected"])').waitFor();
  await a.bringToFront();
  await a.fill('input[name="todo"]', "While node 2 was down");
  await a.press('input[name="todo"]', "Enter");
  await todo(a, "While node 2 was down").waitFor();
  await nodes[1]!.start();
  await b.locator('.status[data-status="connected"]').waitFor({ timeout: 30_000 });
  await todo(b, "While node 2 was down").waitFor();
  await b.locator(".todos li.done", { hasText: "Across nodes" }).waitFor();
  await b.screenshot({ path: join(artifacts, "cluster-2-page-b-back.png") });
});
