import { defineConfig } from "vite";

// The bundle is committed (web/dist) and embedded in the `campus` binary, and CI rebuilds it
// and diffs the folder, so the build must be deterministic: hashed file names, no source maps,
// no build-time timestamps.
export default defineConfig({
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    sourcemap: false,
    assetsDir: "assets",
    target: "es2022",
  },
  server: {
    // `npm run dev` proxies gRPC-web to a running `cargo run` (same origin, so the cookie works).
    proxy: {
      "^/(campus\\.|v1/auth/)": { target: "http://127.0.0.1:8080", changeOrigin: false },
    },
  },
});
