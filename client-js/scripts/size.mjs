// Checks the size budget: the client entry, minified and gzipped, without
// @msgpack/msgpack (its one dependency, which users may already ship).
import { build } from "esbuild";
import { gzipSync } from "node:zlib";

const LIMIT = 5000; // bytes
const entries = ["dist/client.js", "dist/react.js"];
let failed = false;
for (const entry of entries) {
  const out = await build({
    entryPoints: [entry],
    bundle: true,
    minify: true,
    format: "esm",
    target: "es2022",
    external: ["@msgpack/msgpack", "react"],
    write: false,
    logLevel: "silent",
  });
  const code = out.outputFiles[0].contents;
  const gz = gzipSync(code, { level: 9 }).length;
  const over = entry === "dist/client.js" && gz > LIMIT;
  failed ||= over;
  console.log(`${entry}: ${code.length} B minified, ${gz} B gzipped${entry === "dist/client.js" ? ` (limit ${LIMIT} B)` : ""}${over ? "  OVER BUDGET" : ""}`);
}
if (failed) process.exit(1);
