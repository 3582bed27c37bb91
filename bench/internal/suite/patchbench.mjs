// hotbench's JS client measurement: how many patch operations per second
// client-js applies in Node. Usage: node patchbench.mjs <client-js/dist>.
//
// It finds the built applyPatch: exported by a module of dist, or bundled
// inside one without an export, in which case a temporary copy of that
// module beside it adds the export. It checks that the function applies a
// protocol replace operation without changing its input, then times single
// replace operations on a 1000-item state. It prints one JSON object.
import { readdirSync, readFileSync, writeFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const dist = process.argv[2];

function print(o) {
  process.stdout.write(JSON.stringify(o) + "\n");
}

function makeState(n) {
  const items = [];
  for (let i = 0; i < n; i++) items.push({ id: i, text: "item number " + i, done: i % 3 === 0 });
  return { items };
}

// works reports whether fn(state, ops) applies a wire-format replace.
function works(fn) {
  try {
    const s = makeState(4);
    const out = fn(s, [[2, "/items/1/done", true]]);
    return out && out.items && out.items[1].done === true && s.items[1].done === false;
  } catch {
    return false;
  }
}

async function find() {
  const files = readdirSync(dist).filter((f) => f.endsWith(".js") || f.endsWith(".mjs")).sort();
  for (const f of files) {
    const path = join(dist, f);
    const src = readFileSync(path, "utf8");
    if (!/function applyPatch\s*\(/.test(src)) continue;
    const mod = await import(pathToFileURL(path).href).catch(() => null);
    if (mod && typeof mod.applyPatch === "function" && works(mod.applyPatch)) {
      return { fn: mod.applyPatch, module: f + " (exported)" };
    }
    const tmp = join(dist, ".hotbench-" + process.pid + "-" + f.replace(/\.m?js$/, ".mjs"));
    writeFileSync(tmp, src + "\nexport { applyPatch as __hotbenchApplyPatch };\n");
    try {
      const m = await import(pathToFileURL(tmp).href);
      if (works(m.__hotbenchApplyPatch)) return { fn: m.__hotbenchApplyPatch, module: f + " (bundled)" };
    } finally {
      rmSync(tmp, { force: true });
    }
  }
  return null;
}

const found = await find();
if (!found) {
  print({ measured: false, note: "no applyPatch(doc, ops) found in " + dist });
  process.exit(0);
}

let state = makeState(1000);
const ops = [];
for (let i = 0; i < 1000; i++) ops.push([[2, "/items/" + ((i * 7919) % 1000) + "/done", i % 2 === 0]]);
// Warm up, then time for about two seconds.
for (let i = 0; i < 20000; i++) state = found.fn(state, ops[i % 1000]);
let n = 0;
const start = process.hrtime.bigint();
let elapsed = 0n;
while (elapsed < 2_000_000_000n) {
  for (let i = 0; i < 1000; i++) state = found.fn(state, ops[i]);
  n += 1000;
  elapsed = process.hrtime.bigint() - start;
}
print({ measured: true, opsPerSecond: n / (Number(elapsed) / 1e9), module: found.module });
