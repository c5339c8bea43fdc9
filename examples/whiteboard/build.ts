/**
 * Builds the whiteboard into examples/whiteboard/dist (served by `npm start`).
 * The SDK is bundled straight from src/ (esbuild compiles the TypeScript).
 * Run: npm run build:whiteboard
 */
import { build } from 'esbuild'
import { precompress } from '../precompress.js'
import { copyFile, mkdir } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
export const WHITEBOARD_DIST = join(here, 'dist')

export async function buildWhiteboard(outdir: string = WHITEBOARD_DIST): Promise<string> {
  await mkdir(outdir, { recursive: true })
  await build({
    entryPoints: [join(here, 'src', 'main.ts')],
    outfile: join(outdir, 'main.js'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    sourcemap: true,
    // The SDK imports `ws` only where no global WebSocket exists (old Node), never in a browser.
    external: ['ws'],
    logLevel: 'warning',
  })
  // The vote counter's action set and migration, for the server (yroom serve loads it).
  // Packages stay external so the server and this module share one Yjs instance.
  await build({
    entryPoints: [join(here, 'server-actions.ts')],
    outfile: join(outdir, 'server-actions.mjs'),
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    packages: 'external',
    logLevel: 'warning',
  })
  await copyFile(join(here, 'src', 'index.html'), join(outdir, 'index.html'))
  await copyFile(join(here, 'src', 'style.css'), join(outdir, 'style.css'))
  await precompress(outdir)
  return outdir
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  buildWhiteboard().then(
    (dir) => console.log(`whiteboard built in ${dir}`),
    (err) => {
      console.error(err)
      process.exit(1)
    },
  )
}
