/**
 * Runs a TypeScript script of the harness in its own Node process (fresh heap, own RSS) and
 * returns the JSON it prints as its last stdout line.
 */
import { spawn } from 'node:child_process'
import { track } from './children.js'

export function runScript<T>(file: string, args: unknown, nodeFlags: string[] = [], timeoutMs = 300_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = track(
      spawn(process.execPath, [...nodeFlags, '--import', 'tsx', file, JSON.stringify(args)], { stdio: ['ignore', 'pipe', 'pipe'] }),
    )
    let out = ''
    let err = ''
    child.stdout.on('data', (d: Buffer) => (out += d.toString()))
    child.stderr.on('data', (d: Buffer) => (err += d.toString()))
    const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.once('exit', (code, signal) => {
      clearTimeout(t)
      const last = out.trim().split('\n').pop() ?? ''
      if (code !== 0) return reject(new Error(`${file} failed (${code ?? signal}): ${err.slice(-2000)}`))
      try {
        resolve(JSON.parse(last) as T)
      } catch {
        reject(new Error(`${file} printed no JSON result: ${out.slice(-500)} ${err.slice(-1000)}`))
      }
    })
  })
}
