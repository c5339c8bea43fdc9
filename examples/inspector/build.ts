/**
 * Builds the room inspector page into examples/inspector/dist (served at /inspect/ by the
 * inspector plugin, plugins/inspector). Run: npm run build:inspector
 */
import { build } from 'esbuild'
import { copyFile, mkdir } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
export const INSPECTOR_DIST = join(here, 'dist')

export async function buildInspector(outdir: string = INSPECTOR_DIST): Promise<string> {
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
    logLevel: 'warning',
  })
  await copyFile(join(here, 'src', 'index.html'), join(outdir, 'index.html'))
  await copyFile(join(here, 'src', 'style.css'), join(outdir, 'style.css'))
  return outdir
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  buildInspector().then(
    (dir) => console.log(`inspector built in ${dir}`),
    (err) => {
      console.error(err)
      process.exit(1)
    },
  )
}
