/** Runs one load in a fresh load-generator process (so it never shares a CPU thread with the harness). */
import { fork } from 'node:child_process'
import { join } from 'node:path'
import { track, stopChild } from './children.js'
import type { LoadConfig, LoadResult } from '../loadgen/types.js'

const MAIN = join(import.meta.dirname, '..', 'loadgen', 'main.ts')

type Reply = { ok: true; result: LoadResult } | { ok: false; error: string }

export function runLoadgen(cfg: LoadConfig): Promise<LoadResult> {
  const execArgv = ['--import', 'tsx']
  // BENCH_LOADGEN_PROF=<dir>: profile the load generator itself (to check it stays cheap).
  if (process.env.BENCH_LOADGEN_PROF) execArgv.push('--cpu-prof', '--cpu-prof-dir', process.env.BENCH_LOADGEN_PROF)
  // BENCH_LOADGEN_NODE_ARGS: extra Node flags for the load generator (experiments).
  if (process.env.BENCH_LOADGEN_NODE_ARGS) execArgv.push(...process.env.BENCH_LOADGEN_NODE_ARGS.split(/\s+/).filter(Boolean))
  const child = track(fork(MAIN, [], { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }))
  const budget = cfg.warmupMs + cfg.measureMs + cfg.drainMs + 90_000
  return new Promise<LoadResult>((resolve, reject) => {
    const t = setTimeout(() => {
      void stopChild(child, 1000)
      reject(new Error(`load generator did not finish within ${budget} ms`))
    }, budget)
    child.once('message', (m: Reply) => {
      clearTimeout(t)
      if (m.ok) resolve(m.result)
      else reject(new Error(m.error))
    })
    child.once('exit', (code) => {
      clearTimeout(t)
      reject(new Error(`load generator exited with ${code} before replying`))
    })
    child.send(cfg)
  })
}
