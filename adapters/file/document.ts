/**
 * The lowdb adapter of the file store's checkpoint: the IssueIndex as one JSON document, one issue
 * a line, with the journal generation that continues it (everything before that generation is in
 * the document). lowdb's own JSONFile would stringify the whole document in one go, which for
 * 10,000 issues blocks the event loop for far longer than a request should wait; this adapter
 * writes issue by issue (each issue's JSON is cached until it changes) in slices of a few
 * milliseconds, to a temp file that is renamed over the store only when complete.
 */
import { readFileSync } from 'node:fs'
import { open, readFile, rename, unlink, type FileHandle } from 'node:fs/promises'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import type { Adapter } from 'lowdb'
import { IssueIndex } from '../shared/issue-index.js'
import { SliceMeter } from './meter.js'

/** how long one synchronous stretch of a write may run before it yields */
const SLICE_MS = 4
const CHUNK_BYTES = 256 * 1024

/** What the document holds: the issues, and where in the journal it takes over. */
export interface Checkpoint {
  index: IssueIndex
  /** the journal generation and the bytes of it this document holds: readers go on from there */
  journal: number
  offset: number
  /** spool files whose batches are in the journal already (see spool.ts) */
  adopted: string[]
  /** written before the journal existed (version 1): its events files were never checked against it */
  legacy: boolean
}

/**
 * The layout, which is plain JSON with one issue and one claim a line, so that it can also be
 * read a line at a time, yielding between slices:
 *   {"version":2,"savedAt":"...","journal":3,"offset":5120,"adopted":[],"shared":{rules,settings},"issues":[
 *   {issue},
 *   {issue}
 *   ],"claims":[
 *   [claim]
 *   ]}
 * Version 1 (before the journal) is the same without "journal", "offset" and "adopted"; "shared"
 * (when each alert rule last fired, and the settings) came later in version 2.
 */
const HEAD_START = '{"version":'
const ISSUES_START = ',"issues":['
const CLAIMS_START = '\n],"claims":['
const END = '\n]}\n'
const NEWLINE = 0x0a
const FIRST = Buffer.from('\n')
const NEXT = Buffer.from(',\n')
const CLAIMS_START_BYTES = Buffer.from(CLAIMS_START)
const END_BYTES = Buffer.from(END)
const head = (cp: Checkpoint) => `{"version":2,"savedAt":${JSON.stringify(new Date().toISOString())},"journal":${cp.journal},"offset":${cp.offset},"adopted":${JSON.stringify(cp.adopted)},"shared":${JSON.stringify(cp.index.sharedRecord())}${ISSUES_START}`

/** The fields of a document beside its issues and claims, whichever version wrote it. */
function headFields(doc: { version?: unknown; journal?: unknown; offset?: unknown; adopted?: unknown }): Omit<Checkpoint, 'index'> {
  if (doc.version === 1) return { journal: 1, offset: 0, adopted: [], legacy: true }
  if (doc.version !== 2 || !Number.isInteger(doc.journal) || (doc.journal as number) < 1) throw new Error('no "version": 2 with a "journal" generation')
  const offset = Number.isInteger(doc.offset) && (doc.offset as number) >= 0 ? (doc.offset as number) : 0
  return { journal: doc.journal as number, offset, adopted: Array.isArray(doc.adopted) ? doc.adopted.filter((a) => typeof a === 'string') : [], legacy: false }
}

/** Reads the line layout a slice at a time, decoding line by line; each issue's line becomes its cached JSON. */
async function readLines(bytes: Buffer, buffers: Map<string, [string, Buffer]>): Promise<Checkpoint> {
  let start = bytes.indexOf(NEWLINE)
  const first = start < 0 ? '' : bytes.toString('utf8', 0, start)
  if (!first.endsWith(ISSUES_START)) return readWhole(bytes.toString('utf8'))
  const doc = JSON.parse(`${first.slice(0, -ISSUES_START.length)}}`)
  const fields = headFields(doc)
  const index = new IssueIndex()
  index.restoreShared(doc.shared)
  let slice = performance.now()
  let inClaims = false
  let ended = false
  while (start < bytes.length) {
    let end = bytes.indexOf(NEWLINE, start + 1)
    if (end < 0) end = bytes.length
    const lineStart = start + 1
    const line = bytes.toString('utf8', lineStart, end)
    start = end
    if (line === '],"claims":[') {
      inClaims = true
      continue
    }
    if (line === ']}') {
      ended = true
      break
    }
    if (line === '') continue
    const comma = line.endsWith(',')
    const json = comma ? line.slice(0, -1) : line
    if (inClaims) index.restoreClaim(JSON.parse(json))
    else {
      const id = index.restoreIssue(JSON.parse(json), json)
      // the line's bytes, as they are in the file, are what the next save writes for an unchanged issue
      buffers.set(id, [json, bytes.subarray(lineStart, comma ? end - 1 : end)])
    }
    if (performance.now() - slice > SLICE_MS) {
      await new Promise((resolve) => setImmediate(resolve))
      slice = performance.now()
    }
  }
  if (!inClaims || !ended) throw new Error('the document ends early (no claims list or closing bracket)')
  return { index, ...fields }
}

/** Reads any other valid document (written by hand or by an older version) in one go. */
function readWhole(text: string): Checkpoint {
  const doc = JSON.parse(text) as { version?: unknown; issues?: unknown; claims?: unknown; shared?: unknown }
  if (typeof doc !== 'object' || doc === null) throw new Error('not a JSON object')
  const fields = headFields(doc)
  const index = IssueIndex.restore(doc.issues, doc.claims)
  index.restoreShared(doc.shared)
  return { index, ...fields }
}

/** The file exists but is not a store document. */
export class CorruptDocumentError extends Error {
  override name = 'CorruptDocumentError'
}

export class IndexDocument implements Adapter<Checkpoint | null> {
  #path: string
  #tmp: string
  /** each issue's JSON and its bytes, from the last write */
  #buffers = new Map<string, [string, Buffer]>()
  /** the meter the next write reports to (the store sets it to cover its whole write) */
  meter: SliceMeter | null = null

  constructor(file: string) {
    this.#path = file
    this.#tmp = path.join(path.dirname(file), `.${path.basename(file)}.tmp`)
  }

  /** The checkpoint, null if there is no file yet; a CorruptDocumentError if the file is not one. */
  async read(): Promise<Checkpoint | null> {
    let bytes: Buffer
    try {
      // bytes, not text: decoding 10 MB in one go would block for tens of milliseconds; lines are decoded one by one
      bytes = await readFile(this.#path)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
      throw err
    }
    try {
      return bytes.subarray(0, HEAD_START.length).toString('utf8') === HEAD_START ? await readLines(bytes, this.#buffers) : readWhole(bytes.toString('utf8'))
    } catch (err) {
      throw new CorruptDocumentError(`${this.#path} is not a faultline store: ${(err as Error).message}`)
    }
  }

  /** `read`, in one synchronous go: for a crash that comes before the store finished opening. */
  readSync(): Checkpoint | null {
    let text: string
    try {
      text = readFileSync(this.#path, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
      throw err
    }
    try {
      // the line layout is plain JSON too
      return readWhole(text)
    } catch (err) {
      throw new CorruptDocumentError(`${this.#path} is not a faultline store: ${(err as Error).message}`)
    }
  }

  /** Writes the checkpoint in slices that yield to the event loop, then renames the result over the store. */
  async write(checkpoint: Checkpoint | null): Promise<void> {
    if (checkpoint === null) return
    const index = checkpoint.index
    const meter = this.meter ?? new SliceMeter()
    meter.pause()
    const fh = await open(this.#tmp, 'w')
    meter.resume()
    try {
      let chunk: Buffer[] = []
      let chunkBytes = 0
      const put = async (buffer: Buffer) => {
        chunk.push(buffer)
        chunkBytes += buffer.length
        if (chunkBytes < CHUNK_BYTES && meter.elapsed() < SLICE_MS) return
        const buffers = chunk
        meter.bytes += chunkBytes
        chunk = []
        chunkBytes = 0
        meter.pause()
        await writeAll(fh, buffers)
        meter.resume()
      }
      await put(Buffer.from(head(checkpoint)))
      let separator = FIRST
      // the id list is a snapshot: issues recorded during the write go in the next one
      const ids = index.ids()
      for (const id of ids) {
        const buffer = this.#bufferOf(index, id)
        if (buffer === null) continue
        chunk.push(separator)
        await put(buffer)
        separator = NEXT
      }
      await put(CLAIMS_START_BYTES)
      separator = FIRST
      for (const claim of index.claimRecords()) {
        chunk.push(separator)
        await put(Buffer.from(JSON.stringify(claim)))
        separator = NEXT
      }
      chunk.push(END_BYTES)
      meter.bytes += chunkBytes + END_BYTES.length
      meter.pause()
      await writeAll(fh, chunk)
      meter.resume()
      if (this.#buffers.size > ids.length) for (const id of this.#buffers.keys()) if (!index.has(id)) this.#buffers.delete(id)
    } catch (err) {
      // a document cut short must never be renamed over the store
      meter.pause()
      await fh.close().catch(() => {})
      await unlink(this.#tmp).catch(() => {})
      meter.resume()
      throw err
    }
    meter.pause()
    await fh.close()
    await rename(this.#tmp, this.#path)
    meter.resume()
  }

  /**
   * The issue's JSON as bytes, converted only when the issue changed: writing cached buffers
   * leaves next to no garbage, so a save of 10,000 issues does not set off garbage collections.
   */
  #bufferOf(index: IssueIndex, id: string): Buffer | null {
    const json = index.serialize(id)
    if (json === null) return null
    const cached = this.#buffers.get(id)
    if (cached !== undefined && cached[0] === json) return cached[1]
    const buffer = Buffer.from(json)
    this.#buffers.set(id, [json, buffer])
    return buffer
  }
}

/**
 * Writes every byte or throws. writev may write less than asked (a disk that is nearly full) and
 * say so only in its result; the rest is written again, and a disk that takes nothing more throws.
 */
export async function writeAll(fh: Pick<FileHandle, 'writev'>, buffers: Buffer[]): Promise<void> {
  let rest = buffers
  for (;;) {
    const total = rest.reduce((sum, b) => sum + b.length, 0)
    if (total === 0) return
    const { bytesWritten } = await fh.writev(rest)
    if (bytesWritten >= total) return
    if (bytesWritten === 0) throw Object.assign(new Error(`could not write the document: the disk took no more bytes (${total} left)`), { code: 'ENOSPC' })
    let skip = bytesWritten
    const next: Buffer[] = []
    for (const buffer of rest) {
      if (skip >= buffer.length) {
        skip -= buffer.length
        continue
      }
      next.push(skip > 0 ? buffer.subarray(skip) : buffer)
      skip = 0
    }
    rest = next
  }
}
