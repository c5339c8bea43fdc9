/**
 * Damaged storage (SPEC §12, issue 19 case 7): a LevelDB log cut short or overwritten, an
 * entry changed or removed, a damaged MANIFEST or a missing CURRENT is detected on load and
 * reported with what was lost; the damaged room is refused (1011 with the reason) while other
 * rooms keep working; `yroom repair` accepts the loss.
 */
import { spawn } from 'node:child_process'
import { readdir, readFile, stat, truncate, writeFile, open } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ClassicLevel } from 'classic-level'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { LevelStorage } from '../../server/index.js'
import { HEAD_FILE, StorageDamaged, type Damage } from '../../server/storage/integrity.js'
import { StorageOpenError } from '../../server/storage/leveldb.js'
import { repairDataDir } from '../../server/storage/repair.js'
import { closeOnce, connectProvider, RawClient, startServer, until, type TestServer } from '../helpers.js'
import { killAll, startCli, tempDir } from './fixtures/cli.js'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const dirs: Array<{ remove(): Promise<void> }> = []
const closers: Array<() => Promise<unknown> | void> = []
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c()
  await killAll()
})
afterAll(async () => {
  for (const d of dirs.splice(0)) await d.remove()
})

async function dir(): Promise<string> {
  const d = await tempDir('yroom-integrity-')
  dirs.push(d)
  return d.path
}

async function storage(path: string): Promise<LevelStorage> {
  const s = new LevelStorage(path)
  await s.open()
  return closeOnce(s, closers)
}

async function server(path: string): Promise<TestServer> {
  return closeOnce(await startServer({ storage: path }), closers)
}

/** A Yjs update setting `key` to a string of `size` characters. */
function update(key: string, size = 100): Uint8Array {
  const d = new Y.Doc()
  d.getMap('m').set(key, 'x'.repeat(size))
  return Y.encodeStateAsUpdate(d)
}

async function newestLog(path: string): Promise<string> {
  const logs = (await readdir(path)).filter((f) => /^\d+\.log$/.test(f)).sort()
  return join(path, logs[logs.length - 1])
}

/** The StorageDamaged a promise rejects with. */
async function damageOf(p: Promise<unknown>): Promise<StorageDamaged> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(StorageDamaged)
  return err as StorageDamaged
}

/** Runs the CLI (`node --import tsx server/cli.ts ...args`) to its end. */
function cli(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'server', 'cli.ts'), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    proc.stdout.on('data', (d: Buffer) => (out += d.toString()))
    proc.stderr.on('data', (d: Buffer) => (out += d.toString()))
    const timer = setTimeout(() => proc.kill('SIGKILL'), 30_000)
    proc.once('exit', (code) => {
      clearTimeout(timer)
      resolve({ code, out })
    })
  })
}

/** Changes one stored value (or deletes it) behind LevelStorage's back, with the storage closed. */
async function tamper(path: string, room: string, seq: number, change: ((v: Uint8Array) => Uint8Array) | 'delete'): Promise<void> {
  const db = new ClassicLevel<string, Uint8Array>(path, { keyEncoding: 'utf8', valueEncoding: 'view' })
  await db.open()
  const key = `u\u0000${room}\u0000${seq.toString(16).padStart(16, '0')}`
  if (change === 'delete') await db.del(key)
  else await db.put(key, change((await db.get(key))!))
  await db.close()
}

const missing = (d: readonly Damage[]) => d.filter((x): x is Extract<Damage, { kind: 'missing' }> => x.kind === 'missing')

describe('LevelStorage: damage is detected on load', () => {
  it('a log cut short after a clean close: the load names the missing entries instead of returning fewer', async () => {
    const path = await dir()
    const s1 = await storage(path)
    await s1.append('other', [update('o')])
    for (let i = 1; i <= 30; i++) await s1.append('doc', [update(`k${i}`, 500)])
    await s1.close()

    const log = await newestLog(path)
    await truncate(log, (await stat(log)).size - 1800) // the last 3 entries (≈ 600 bytes each)

    const s2 = await storage(path)
    const err = await damageOf(s2.load('doc'))
    expect(err.room).toBe('doc')
    const [gap] = missing(err.damage)
    expect(gap.to).toBe(30)
    expect(gap.from).toBeGreaterThan(20)
    expect(err.summary).toBe(`entries ${gap.from}–30 missing`)
    // Refused for writes as well: nothing may be chained onto a damaged log.
    await damageOf(s2.append('doc', [update('late')]))
    // Other rooms are untouched.
    expect((await s2.load('other')).updates).toHaveLength(1)
  })

  it('bytes overwritten in the newest log: the entries LevelDB drops are reported (a gap inside the log, a cut tail)', async () => {
    const path = await dir()
    const s1 = await storage(path)
    // About 80 KB: several of LevelDB's 32 KB log blocks.
    for (let i = 1; i <= 80; i++) await s1.append('doc', [update(`k${i}`, 1000)])
    await s1.close()

    const log = await newestLog(path)
    const fh = await open(log, 'r+')
    await fh.write(new Uint8Array(16).fill(0x5a), 0, 16, 5000) // inside the first block
    await fh.close()

    const s2 = await storage(path)
    const err = await damageOf(s2.load('doc'))
    const gaps = missing(err.damage)
    expect(gaps.length).toBeGreaterThan(0)
    // LevelDB dropped the rest of the first block; later blocks were still read.
    expect(gaps[0].from).toBeGreaterThan(1)
    expect(gaps[0].to).toBeLessThan(80)
    await s2.close()

    // Overwriting the end of the log instead loses the tail.
    const path2 = await dir()
    const s3 = await storage(path2)
    for (let i = 1; i <= 10; i++) await s3.append('doc', [update(`k${i}`, 200)])
    await s3.close()
    const log2 = await newestLog(path2)
    const size = (await stat(log2)).size
    const fh2 = await open(log2, 'r+')
    await fh2.write(new Uint8Array(8).fill(0xa5), 0, 8, size - 100)
    await fh2.close()
    const s4 = await storage(path2)
    const tail = missing((await damageOf(s4.load('doc'))).damage)
    expect(tail.at(-1)!.to).toBe(10)
  })

  it('a changed entry fails its checksum; a removed entry is reported missing', async () => {
    const path = await dir()
    const s1 = await storage(path)
    for (let i = 1; i <= 6; i++) await s1.append('doc', [update(`k${i}`)])
    await s1.append('same', [update('a'), update('b'), update('c')])
    await s1.close()
    await tamper(path, 'doc', 3, (v) => {
      const w = v.slice()
      w[w.length - 2] ^= 1 // one bit of the Yjs update, header untouched
      return w
    })
    await tamper(path, 'same', 2, 'delete')
    const s2 = await storage(path)
    expect((await damageOf(s2.load('doc'))).summary).toBe('entry 3 corrupt (checksum mismatch)')
    expect((await damageOf(s2.load('same'))).summary).toBe('entry 2 missing')
    await s2.close()

    // Repair drops the corrupt entry and closes the gap; both rooms load again.
    const lines: string[] = []
    const report = await repairDataDir(path, { out: (l) => lines.push(l) })
    expect(report.rooms.map((r) => [r.room, r.status, r.kept])).toEqual([
      ['doc', 'repaired', 5],
      ['same', 'repaired', 2],
    ])
    expect(lines.join('\n')).toMatch(/room "doc": damaged: entry 3 corrupt \(checksum mismatch\)\n {2}→ re-based on 5 kept entries \(now seq 1–5\); lost: entry 3 \(dropped\)/)
    const s3 = await storage(path)
    const doc = new Y.Doc()
    for (const u of (await s3.load('doc')).updates) Y.applyUpdate(doc, u)
    expect(Object.keys(doc.getMap('m').toJSON()).sort()).toEqual(['k1', 'k2', 'k4', 'k5', 'k6'])
    expect((await s3.load('same')).seq).toBe(2)
    expect(await s3.append('same', [update('d')])).toBe(3)
  })

  it('an entry moved to another room or seq, or a head record that does not match the log, is reported', async () => {
    const path = await dir()
    const s1 = await storage(path)
    for (let i = 1; i <= 4; i++) await s1.append('a', [update(`k${i}`)])
    await s1.append('b', [update('x')])
    await s1.close()
    // Entry a/4 copied over b/1: valid header, wrong place.
    const db = new ClassicLevel<string, Uint8Array>(path, { keyEncoding: 'utf8', valueEncoding: 'view' })
    await db.open()
    const a4 = await db.get(`u\u0000a\u0000${(4).toString(16).padStart(16, '0')}`)
    await db.put(`u\u0000b\u0000${(1).toString(16).padStart(16, '0')}`, a4!)
    await db.close()
    // The head record of `a` names another history.
    const headFile = join(path, HEAD_FILE)
    const heads = JSON.parse(await readFile(headFile, 'utf8')) as { rooms: Record<string, [number, string]> }
    heads.rooms.a[1] = heads.rooms.a[1] === '00000000' ? '00000001' : '00000000'
    await writeFile(headFile, JSON.stringify(heads))

    const s2 = await storage(path)
    expect((await damageOf(s2.load('b'))).summary).toBe('entry 1 corrupt (checksum mismatch)')
    expect((await damageOf(s2.load('a'))).summary).toBe('entry 4 differs from the head record')
  })

  it('a directory whose CURRENT file is gone is refused (LevelDB would start empty and delete the tables); repair rebuilds it', async () => {
    const path = await dir()
    const s1 = await storage(path)
    await s1.append('doc', [update('k')])
    await s1.close()
    // Reopen once so the log becomes a table.
    await (await storage(path)).close()
    const { rm } = await import('node:fs/promises')
    await rm(join(path, 'CURRENT'))

    const s2 = new LevelStorage(path)
    const err = await s2.open().then(
      () => null,
      (e: unknown) => e,
    )
    expect(err).toBeInstanceOf(StorageOpenError)
    expect((err as Error).message).toMatch(/CURRENT file is missing.*yroom repair --data/s)
    expect((await readdir(path)).some((f) => f.endsWith('.ldb'))).toBe(true)

    const report = await repairDataDir(path)
    expect(report.leveldbRepaired).toBe(true)
    const s3 = await storage(path)
    const d = new Y.Doc()
    for (const u of (await s3.load('doc')).updates) Y.applyUpdate(d, u)
    expect(d.getMap('m').get('k')).toBe('x'.repeat(100))
  })
})

describe('LevelStorage: the normal paths pass the check', () => {
  it('appends, compactions, concurrent appends, deletes and reloads over many rooms', async () => {
    const path = await dir()
    const s1 = await storage(path)
    const expected = new Map<string, Y.Doc>()
    const rooms = Array.from({ length: 40 }, (_, i) => `room-${i}`)
    for (let round = 0; round < 6; round++) {
      await Promise.all(
        rooms.map(async (room, i) => {
          const doc = expected.get(room) ?? new Y.Doc()
          expected.set(room, doc)
          const updates: Uint8Array[] = []
          const capture = (u: Uint8Array) => updates.push(u)
          doc.on('update', capture)
          for (let k = 0; k < 1 + ((i + round) % 3); k++) doc.getMap('m').set(`r${round}k${k}`, round * 10 + k)
          doc.off('update', capture)
          // Concurrent appends to one room, as a tick and a rollback can be.
          const seqs = await Promise.all(updates.map((u) => s1.append(room, [u])))
          if ((i + round) % 4 === 0) await s1.compact(room, Y.encodeStateAsUpdate(doc), Math.max(...seqs))
        }),
      )
    }
    await s1.delete('room-0')
    expected.delete('room-0')
    await s1.append('room-0', [update('again')])
    await s1.close()

    const s2 = await storage(path)
    for (const [room, doc] of expected) {
      const got = new Y.Doc()
      for (const u of (await s2.load(room)).updates) Y.applyUpdate(got, u)
      expect(got.getMap('m').toJSON()).toEqual(doc.getMap('m').toJSON())
    }
    expect((await s2.load('room-0')).seq).toBe(1)
    expect(JSON.parse(await readFile(join(path, HEAD_FILE), 'utf8')).rooms['room-5'][0]).toBe((await s2.load('room-5')).seq)
  })

  it('entries written after the last head record (a process killed before its flush) are accepted', async () => {
    const path = await dir()
    const s1 = await storage(path)
    for (let i = 1; i <= 3; i++) await s1.append('doc', [update(`k${i}`)])
    await s1.close()
    const headFile = join(path, HEAD_FILE)
    const recorded = await readFile(headFile, 'utf8')
    const s2 = await storage(path)
    await s2.load('doc')
    for (let i = 4; i <= 6; i++) await s2.append('doc', [update(`k${i}`)])
    await s2.close()
    await writeFile(headFile, recorded) // as if the process died before writing it again
    const s3 = await storage(path)
    expect((await s3.load('doc')).seq).toBe(6)
  })

  it('a missing head record is a warning, not a refusal, and is written again; repair refuses a directory in use', async () => {
    const path = await dir()
    const s1 = await storage(path)
    await s1.append('doc', [update('k')])
    await s1.close()
    const { rm } = await import('node:fs/promises')
    await rm(join(path, HEAD_FILE))
    const s2 = await storage(path)
    expect(s2.warnings.join('\n')).toMatch(/head record .* is missing/)
    expect((await s2.load('doc')).seq).toBe(1)
    await expect(repairDataDir(path)).rejects.toThrow(/in use by another process/)
    await s2.close()
    expect(JSON.parse(await readFile(join(path, HEAD_FILE), 'utf8')).rooms.doc[0]).toBe(1)
  })

  it('a directory written before the integrity format loads; its raw entries end with the first compaction', async () => {
    const path = await dir()
    // The format of earlier versions: raw Yjs updates, no head record.
    const db = new ClassicLevel<string, Uint8Array>(path, { keyEncoding: 'utf8', valueEncoding: 'view' })
    await db.open()
    for (let i = 1; i <= 3; i++) await db.put(`u\u0000old\u0000${i.toString(16).padStart(16, '0')}`, update(`k${i}`))
    await db.close()

    const s1 = await storage(path)
    expect((await s1.load('old')).updates).toHaveLength(3)
    expect(await s1.append('old', [update('k4')])).toBe(4)
    await s1.close()

    const s2 = await storage(path)
    const loaded = await s2.load('old')
    expect(loaded.seq).toBe(4)
    const doc = new Y.Doc()
    for (const u of loaded.updates) Y.applyUpdate(doc, u)
    expect(Object.keys(doc.getMap('m').toJSON()).sort()).toEqual(['k1', 'k2', 'k3', 'k4'])
    await s2.compact('old', Y.encodeStateAsUpdate(doc), 4)
    await s2.close()

    // A raw entry appearing after the upgrade (not written by this format) is not trusted.
    const db2 = new ClassicLevel<string, Uint8Array>(path, { keyEncoding: 'utf8', valueEncoding: 'view' })
    await db2.open()
    await db2.put(`u\u0000old\u0000${(5).toString(16).padStart(16, '0')}`, update('k5'))
    await db2.close()
    const s3 = await storage(path)
    expect((await damageOf(s3.load('old'))).summary).toBe('entry 5 corrupt (no integrity header)')
  })
})

describe('the server and the CLI', () => {
  it('a room whose log was cut short is refused with 1011 and the damage; other rooms work; yroom repair lets it load again', async () => {
    const path = await dir()
    const s1 = await server(path)
    const o = await connectProvider(s1.url, 'other')
    closers.push(() => o.destroy())
    o.doc.getMap('m').set('kept', 'yes')
    const a = await connectProvider(s1.url, 'doc')
    const b = await connectProvider(s1.url, 'doc')
    closers.push(() => a.destroy(), () => b.destroy())
    await until(() => b.doc.getMap('m').size === 0)
    for (let i = 1; i <= 10; i++) {
      a.doc.getMap('m').set(`k${i}`, 'x'.repeat(1000))
      // Seen by another client: acknowledged, so stored.
      await until(() => b.doc.getMap('m').get(`k${i}`) !== undefined)
    }
    await until(() => s1.server.rooms.get('other')?.doc.getMap('m').get('kept') === 'yes')
    const log = await newestLog(path)
    const acknowledged = (await stat(log)).size
    o.destroy()
    a.destroy()
    b.destroy()
    await s1.close() // clean: unloads (compacts) every room

    await truncate(log, acknowledged - 2500) // the last two or three writes of `doc`

    const s2 = await server(path)
    const refused = new RawClient(s2.url, 'doc')
    await until(() => refused.closeCode !== null, { message: 'the damaged room is refused' })
    expect(refused.closeCode).toBe(1011)
    expect(refused.closeReason).toMatch(/^stored state of this room is damaged: entr(y \d+|ies \d+–\d+) missing$/)
    // The other room, and new rooms, still work.
    const other = await connectProvider(s2.url, 'other')
    closers.push(() => other.destroy())
    expect(other.doc.getMap('m').get('kept')).toBe('yes')
    const fresh = await connectProvider(s2.url, 'fresh')
    closers.push(() => fresh.destroy())
    fresh.doc.getMap('m').set('a', 1)
    await until(() => s2.server.rooms.get('fresh')?.doc.getMap('m').get('a') === 1)
    // A backend edit of the damaged room fails instead of writing onto it.
    await expect(s2.server.rooms.edit('doc', (d) => d.getMap('m').set('x', 1))).rejects.toBeInstanceOf(StorageDamaged)
    other.destroy()
    fresh.destroy()
    await s2.close()

    const repaired = await cli(['repair', '--data', path])
    expect(repaired.code, repaired.out).toBe(0)
    expect(repaired.out).toMatch(/room "doc": damaged: entr(y|ies) [\d–]+ missing/)
    expect(repaired.out).toMatch(/re-based on \d+ kept entries/)
    expect(repaired.out).toMatch(/room "other": ok/)

    const s3 = await server(path)
    const c = await connectProvider(s3.url, 'doc')
    closers.push(() => c.destroy())
    const m = c.doc.getMap('m')
    expect(m.get('k1')).toBe('x'.repeat(1000))
    expect(m.get('k10')).toBeUndefined()
    // And it takes writes again.
    m.set('after', 'repair')
    await until(() => s3.server.rooms.get('doc')?.doc.getMap('m').get('after') === 'repair')
  })

  it('yroom serve on a damaged MANIFEST exits non-zero naming the cause; yroom repair lets it start with the data', async () => {
    const path = await dir()
    const s1 = await server(path)
    await s1.server.rooms.edit('doc', (d) => d.getMap('m').set('title', 'kept'))
    await s1.close()
    const manifest = (await readdir(path)).find((f) => f.startsWith('MANIFEST-'))!
    const bytes = await readFile(join(path, manifest))
    for (let i = 10; i < Math.min(bytes.length, 30); i++) bytes[i] ^= 0x55
    await writeFile(join(path, manifest), bytes)

    const failed = await cli(['serve', '--port', '0', '--host', '127.0.0.1', '--data', path])
    expect(failed.code).toBe(1)
    expect(failed.out).toMatch(/cannot open the data directory .*: Corruption: .*yroom repair --data /s)

    const dry = await cli(['repair', '--data', path, '--dry-run'])
    expect(dry.code, dry.out).toBe(1)
    expect(dry.out).toMatch(/would run LevelDB's repair/)

    const repaired = await cli(['repair', '--data', path])
    expect(repaired.code, repaired.out).toBe(0)
    expect(repaired.out).toMatch(/LevelDB: cannot open \(Corruption: [^)]+\)/)
    expect(repaired.out).toMatch(/LevelDB: repaired/)
    expect(repaired.out).toMatch(/room "doc": ok/)

    const s2 = await startCli(['--data', path])
    const c = await connectProvider(s2.url, 'doc')
    closers.push(() => c.destroy())
    expect(c.doc.getMap('m').get('title')).toBe('kept')
  })
})
