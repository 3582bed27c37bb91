import { defineConfig } from "tsdown";

export default defineConfig({
  entry: { client: "src/client.ts", react: "src/react.ts" },
  format: "esm",
  platform: "neutral",
  target: "es2022",
  dts: true,
  sourcemap: true,
  clean: true,
  fixedExtension: false,
  hash: false,
  // Keep shared chunks (the declarations react.d.ts shares with client.d.ts)
  // from taking an entry's file name.
  outputOptions: { chunkFileNames: "shared/[name].js" },
});
