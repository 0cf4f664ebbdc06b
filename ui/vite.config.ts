import { defineConfig } from 'vitest/config';
import { svelte } from '@sveltejs/vite-plugin-svelte';

// The page runs only inside the app's webview: WebKitGTK on Linux, WKWebView on macOS, WebView2
// on Windows. Safari 15 is the oldest engine among them worth supporting.
export default defineConfig(({ mode }) => ({
  plugins: [svelte()],
  // Component tests mount Svelte's browser build in jsdom; without this Node's resolution picks
  // the server build, whose `mount` refuses to run. Builds are unaffected.
  resolve: mode === 'test' ? { conditions: ['browser'] } : {},
  // Keep Rust's compiler output visible when run by `tauri dev`.
  clearScreen: false,
  server: { port: 5173, strictPort: true },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: ['es2021', 'safari15'],
    // Everything ships inside the binary, so inlined assets save nothing.
    assetsInlineLimit: 0,
  },
  test: {
    include: ['src/**/*.test.ts'],
    environment: 'node',
  },
}));
