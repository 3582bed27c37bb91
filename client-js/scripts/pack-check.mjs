// Checks the package as users get it: packs dist/ into a tarball, installs
// it into a fresh project with npm ci --offline, and there imports every
// entry from ESM, requires them from CommonJS (require(esm), Node 20.19+
// and 22.12+), and type-checks a consumer of each under strict.
//
// The fresh project's lockfile is made from this package's own: the
// tarball, plus the dependencies the checks need at the versions and
// integrities this package's lockfile pins, so npm finds every one of them
// in the cache that npm ci filled and nothing goes over the network.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const lock = JSON.parse(readFileSync(join(root, "package-lock.json"), "utf8"));
const tsc = join(root, "node_modules/typescript/bin/tsc");
const dir = mkdtempSync(join(tmpdir(), "hotstate-pack-"));
const run = (cmd, args, opts = {}) => execFileSync(cmd, args, { cwd: dir, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], ...opts });

function fail(msg) {
  console.error(`pack check: ${msg}`);
  process.exitCode = 1;
}

try {
  // The tarball: LICENSE in, no source maps, every file the exports name.
  const [packed] = JSON.parse(run("npm", ["pack", "--json", "--pack-destination", dir], { cwd: root }));
  const files = packed.files.map((f) => f.path);
  if (!files.includes("LICENSE")) fail("the tarball has no LICENSE");
  for (const f of files) if (f.endsWith(".map")) fail(`the tarball holds a source map: ${f}`);
  const targets = Object.values(pkg.exports).flatMap((e) => (typeof e === "string" ? [e] : Object.values(e)));
  for (const t of new Set([...targets, pkg.main, pkg.types])) {
    if (!files.includes(t.replace(/^\.\//, ""))) fail(`the tarball lacks ${t}, which package.json names`);
  }

  // The project: the tarball and what the checks import, with everything
  // those need, copied from this package's lockfile.
  const extras = ["react", "vue", "@types/react"];
  const wanted = [...Object.keys(pkg.dependencies), ...extras];
  const packages = {};
  // where finds the lockfile key of dep as Node would resolve it from the
  // package at key from: its own node_modules, then each one above.
  const where = (from, dep) => {
    for (let base = from; ; ) {
      const key = `${base ? base + "/" : ""}node_modules/${dep}`;
      if (lock.packages[key]) return key;
      if (!base) throw new Error(`${dep} (needed by ${from || "the project"}) is not in package-lock.json`);
      const i = base.lastIndexOf("node_modules/");
      base = i <= 0 ? "" : base.slice(0, i - 1);
    }
  };
  const add = (key) => {
    if (packages[key]) return;
    const { dev, peer, devOptional, optional, ...kept } = lock.packages[key];
    packages[key] = kept;
    const needs = { ...kept.dependencies };
    for (const dep of Object.keys(kept.peerDependencies ?? {})) if (!kept.peerDependenciesMeta?.[dep]?.optional) needs[dep] = true;
    for (const dep of Object.keys(needs)) add(where(key, dep));
  };
  for (const name of wanted) add(where("", name));
  const tarball = `file:${packed.filename}`;
  const integrity = "sha512-" + createHash("sha512").update(readFileSync(join(dir, packed.filename))).digest("base64");
  const rootDeps = { hotstate: tarball, ...Object.fromEntries(extras.map((n) => [n, packages[`node_modules/${n}`].version])) };
  packages["node_modules/hotstate"] = {
    version: pkg.version,
    resolved: tarball,
    integrity,
    license: pkg.license,
    dependencies: pkg.dependencies,
    peerDependencies: pkg.peerDependencies,
    peerDependenciesMeta: pkg.peerDependenciesMeta,
    engines: pkg.engines,
  };
  const project = { name: "hotstate-pack-check", version: "0.0.0", private: true, type: "module", dependencies: rootDeps };
  writeFileSync(join(dir, "package.json"), JSON.stringify(project, null, 2));
  writeFileSync(
    join(dir, "package-lock.json"),
    JSON.stringify({ name: project.name, version: project.version, lockfileVersion: 3, requires: true, packages: { "": project, ...packages } }, null, 2),
  );
  run("npm", ["ci", "--offline", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"]);

  // ESM: the default export of "." and "./client" is one function, and
  // the React and Vue entries load beside their frameworks.
  writeFileSync(
    join(dir, "esm.mjs"),
    `import Hotstate from "hotstate";
import Client, { HotstateError } from "hotstate/client";
import * as react from "hotstate/react";
import * as vue from "hotstate/vue";
if (Hotstate !== Client || typeof Hotstate !== "function") throw new Error("hotstate and hotstate/client differ");
if (typeof HotstateError !== "function") throw new Error("no HotstateError");
for (const name of ["useStore", "useSuspenseStore", "useCall", "useEvent", "useStatus", "shallow"]) if (typeof react[name] !== "function") throw new Error("hotstate/react lacks " + name);
for (const name of ["useStore", "useCall", "useEvent", "useStatus"]) if (typeof vue[name] !== "function") throw new Error("hotstate/vue lacks " + name);
const client = Hotstate();
if (client.status !== "disconnected") throw new Error("a new client is " + client.status);
client.destroy();
`,
  );
  run("node", ["esm.mjs"]);

  // CommonJS through require(esm): the same module instances as import,
  // so there is no second copy of the client to disagree with the first.
  const [major, minor] = process.versions.node.split(".").map(Number);
  if (major > 22 || (major === 22 && minor >= 12) || (major === 20 && minor >= 19)) {
    writeFileSync(
      join(dir, "cjs.cjs"),
      `const client = require("hotstate/client");
const dot = require("hotstate");
if (typeof client.default !== "function" || dot.default !== client.default) throw new Error("require gave no client");
if (typeof require("hotstate/react").useStore !== "function") throw new Error("require of hotstate/react failed");
if (typeof require("hotstate/vue").useStore !== "function") throw new Error("require of hotstate/vue failed");
import("hotstate/client").then((m) => {
  if (m.default !== client.default) throw new Error("require and import load different copies");
});
`,
    );
    run("node", ["cjs.cjs"]);
  } else {
    console.log(`pack check: Node ${process.versions.node} has no require(esm); CommonJS not checked`);
  }

  // Types, under strict, from ESM and from CommonJS. The declarations of
  // React and Vue are not checked themselves (skipLibCheck): that would
  // triple the time and test them, not hotstate.
  writeFileSync(
    join(dir, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: { module: "nodenext", moduleResolution: "nodenext", target: "es2022", strict: true, noEmit: true, types: [], skipLibCheck: true, jsx: "react-jsx", lib: ["es2023", "dom"] },
      files: ["consumer.mts", "consumer.cts"],
    }),
  );
  writeFileSync(
    join(dir, "consumer.mts"),
    `import Hotstate, { type HotstateClient, type StoreHandle } from "hotstate";
import { shallow, useCall, useEvent, useStatus, useStore, useSuspenseStore } from "hotstate/react";
import * as vue from "hotstate/vue";
type Todos = { items: Array<{ id: number; text: string; done: boolean }> };
const client: HotstateClient = Hotstate({ getToken: async () => "t" });
client.connect(() => "ws://localhost:4400/ws");
const todos: StoreHandle<Todos> = client.subscribe<Todos>("Todos");
export function View() {
  const n: number = useStore(client, "Todos", (s: Todos | undefined) => s?.items.length ?? 0);
  const ids: number[] = useSuspenseStore(client, "Todos", (s: Todos) => s.items.map((t) => t.id), shallow);
  const add = useCall<{ id: number }, { text: string }>(client, "todos.add");
  const pending: boolean = add.pending;
  useEvent(client, "user.joined", (d: { id: string }) => d.id);
  const status: "disconnected" | "connecting" | "connected" | "reconnecting" = useStatus(client);
  void [n, ids, pending, status, todos];
}
export function setup() {
  const items = vue.useStore(client, "Todos", (s: Todos | undefined) => s?.items);
  const first: { id: number } | undefined = items.value?.[0];
  const status = vue.useStatus(client);
  const add = vue.useCall<{ id: number }>(client, "todos.add");
  return { first, s: status.value, pending: add.pending.value };
}
`,
  );
  writeFileSync(
    join(dir, "consumer.cts"),
    `import client = require("hotstate/client");
const c: client.HotstateClient = client.default("ws://localhost:4400/ws");
c.destroy();
`,
  );
  try {
    run("node", [tsc, "-p", "."]);
  } catch (err) {
    fail("the consumer does not type-check:\n" + err.stdout + err.stderr);
  }
  if (!process.exitCode) console.log(`pack check: ${packed.filename} (${files.length} files) installs, imports, requires and type-checks`);
} catch (err) {
  fail(err.message.split("\n").slice(0, 20).join("\n"));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
