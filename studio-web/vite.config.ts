import react from "@vitejs/plugin-react";
import { defineConfig } from "vitest/config";

// The bundle is served by `onnxbridge studio` from onnxbridge/studio/static/ (scripts/build_studio copies
// dist/ there); relative asset paths keep it working under any mount point.
export default defineConfig({
  base: "./",
  plugins: [react()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    chunkSizeWarningLimit: 1600,
    sourcemap: false,
  },
  test: {
    include: ["test/**/*.test.ts"],
    environment: "node",
  },
});
