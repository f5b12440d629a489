import { fileURLToPath } from "node:url"
import react from "@vitejs/plugin-react"
import { defineConfig } from "vite"

// The dashboard's build (scripts/build-web.mjs runs it): hashed assets under dist/web/assets, which the
// API serves with a year-long immutable cache; index.html is served for every deep link (SPA fallback).
export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "/",
  plugins: [react()],
  build: {
    outDir: fileURLToPath(new URL("../dist/web", import.meta.url)),
    emptyOutDir: true,
    assetsDir: "assets",
    sourcemap: false,
    target: "es2022",
    chunkSizeWarningLimit: 512
  },
  // `vite` in web/ (development only): the API on :8000 behind the dev server.
  server: { proxy: { "/api": "http://127.0.0.1:8000" } }
})
