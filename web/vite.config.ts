import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// The appliance serves web/dist at `/` and falls back to index.html for client routes.
export default defineConfig({
  base: '/',
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
  },
  server: {
    proxy: {
      '/api': { target: 'http://127.0.0.1:8080', changeOrigin: false },
      '/metrics': { target: 'http://127.0.0.1:8080', changeOrigin: false },
    },
  },
});
