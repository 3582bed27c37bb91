// Checks the size budgets: each entry minified and gzipped, without what it
// imports from other packages (@msgpack/msgpack, the client's one
// dependency, which users may already ship; React; Vue).
import { build } from "esbuild";
import { gzipSync } from "node:zlib";

const budgets = { "dist/client.js": 5000, "dist/react.js": 1500, "dist/vue.js": 1500 }; // bytes
let failed = false;
for (const [entry, limit] of Object.entries(budgets)) {
  const out = await build({
    entryPoints: [entry],
    bundle: true,
    minify: true,
    format: "esm",
    target: "es2022",
    external: ["@msgpack/msgpack", "react", "vue"],
    write: false,
    logLevel: "silent",
  });
  const code = out.outputFiles[0].contents;
  const gz = gzipSync(code, { level: 9 }).length;
  const over = gz > limit;
  failed ||= over;
  console.log(`${entry}: ${code.length} B minified, ${gz} B gzipped (limit ${limit} B)${over ? "  OVER BUDGET" : ""}`);
}
if (failed) process.exit(1);
