/**
 * Builds the editor into examples/whiteboard/dist/editor: `yroom serve` serves the
 * whiteboard's dist folder, so the editor appears at /editor/ with no server option.
 * Run: npm run build:editor
 */
import { build, type Metafile } from 'esbuild'
import { precompress } from '../precompress.js'
import { copyFile, mkdir } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
export const EDITOR_DIST = join(here, '..', 'whiteboard', 'dist', 'editor')

export async function buildEditor(outdir: string = EDITOR_DIST): Promise<string> {
  await mkdir(outdir, { recursive: true })
  const result = await build({
    entryPoints: [join(here, 'src', 'main.ts')],
    outfile: join(outdir, 'main.js'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    sourcemap: true,
    metafile: true,
    // The SDK imports `ws` only where no global WebSocket exists (old Node), never in a browser.
    external: ['ws'],
    logLevel: 'warning',
  })
  assertOneYjs(result.metafile)
  await copyFile(join(here, 'src', 'index.html'), join(outdir, 'index.html'))
  await copyFile(join(here, 'src', 'style.css'), join(outdir, 'style.css'))
  await precompress(outdir)
  return outdir
}

/**
 * The SDK, y-codemirror.next and y-indexeddb must share one Yjs: with two copies, a Y.Text
 * made by one fails the other's `instanceof` checks and Yjs warns that it was imported twice.
 * A nested node_modules/yjs (a version mismatch) or both its ESM and CJS builds would do it.
 */
function assertOneYjs(meta: Metafile): void {
  const copies = Object.keys(meta.inputs).filter((f) => /(^|\/)node_modules\/yjs\//.test(f))
  if (copies.length !== 1) throw new Error(`the editor bundle must hold exactly one Yjs, found: ${copies.join(', ') || 'none'}`)
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  buildEditor().then(
    (dir) => console.log(`editor built in ${dir}`),
    (err) => {
      console.error(err)
      process.exit(1)
    },
  )
}
