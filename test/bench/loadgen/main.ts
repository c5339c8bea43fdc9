/**
 * Load generator process: receives one LoadConfig over IPC, runs it, replies with the
 * LoadResult (or an error) and exits. Exits at once if the harness goes away.
 */
import { runLoad } from './run-load.js'
import type { LoadConfig } from './types.js'

process.on('disconnect', () => process.exit(1))
process.once('message', (cfg: LoadConfig) => {
  runLoad(cfg).then(
    (result) => process.send!({ ok: true, result }, () => process.exit(0)),
    (err: Error) => process.send!({ ok: false, error: err.stack ?? String(err) }, () => process.exit(1)),
  )
})
