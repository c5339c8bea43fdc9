/**
 * Writes `.br` and `.gz` siblings of a built app's text files, which the server's static
 * file handler (server/transport/static-files.ts, sirv) sends to browsers that accept them:
 * compressed once at build time with the best settings, not on every request.
 */
import { readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { brotliCompressSync, constants, gzipSync } from 'node:zlib'

const TEXT = /\.(html|js|css|svg|json|map)$/

export async function precompress(dir: string): Promise<void> {
  for (const name of await readdir(dir)) {
    if (!TEXT.test(name)) continue
    const file = join(dir, name)
    const bytes = await readFile(file)
    await writeFile(`${file}.gz`, gzipSync(bytes, { level: 9 }))
    await writeFile(`${file}.br`, brotliCompressSync(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: bytes.length } }))
  }
}
