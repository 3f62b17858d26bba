import type { Socket } from 'node:net'
import { simpleParser, type ParsedMail } from 'mailparser'
import { SMTPServer } from 'smtp-server'

/** How the test server treats the next connections. */
export type SmtpMode =
  | { kind: 'accept' }
  /** answers MAIL FROM with this code: 421 is temporary, 550 permanent */
  | { kind: 'refuse'; code: number }
  /** accepts the connection and never sends the greeting */
  | { kind: 'hang' }
  /** closes each connection as soon as it opens */
  | { kind: 'drop' }

export interface ReceivedMail {
  parsed: ParsedMail
  /** the message as it came over the wire, headers included */
  raw: string
  envelopeTo: string[]
}

export interface SmtpTestServer {
  port: number
  /** smtp://127.0.0.1:PORT */
  url: string
  messages: ReceivedMail[]
  /** connections opened so far, accepted or not */
  connections: number
  /** MAIL FROM commands seen, refused ones included: one per delivery attempt */
  attempts: number
  setMode(mode: SmtpMode): void
  /** Resolves once `count` messages arrived; rejects after `timeoutMs` saying how many did. */
  waitFor(count: number, timeoutMs?: number): Promise<ReceivedMail[]>
  close(): Promise<void>
}

/** Starts a real SMTP server on loopback, on an ephemeral port, that parses what it receives. */
export async function startSmtp(initial: SmtpMode = { kind: 'accept' }): Promise<SmtpTestServer> {
  let mode = initial
  const sockets = new Set<Socket>()
  const hung: Array<() => void> = []
  let waiters: Array<() => void> = []
  const state = { connections: 0, attempts: 0, messages: [] as ReceivedMail[] }

  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    size: 10 * 1024 * 1024,
    onConnect(_session, callback) {
      if (mode.kind === 'hang') {
        hung.push(() => callback(new Error('closing')))
        return
      }
      callback()
    },
    onMailFrom(_address, _session, callback) {
      state.attempts++
      if (mode.kind === 'refuse') {
        const err = Object.assign(new Error(mode.code >= 500 ? 'Mailbox unavailable' : 'Service not available, try later'), { responseCode: mode.code })
        return callback(err)
      }
      callback()
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = []
      stream.on('data', (c: Buffer) => chunks.push(c))
      stream.on('end', async () => {
        const raw = Buffer.concat(chunks).toString('utf8')
        try {
          const parsed = await simpleParser(raw)
          state.messages.push({ parsed, raw, envelopeTo: session.envelope.rcptTo.map((r) => r.address) })
          const ws = waiters
          waiters = []
          for (const w of ws) w()
          callback()
        } catch (err) {
          callback(err as Error)
        }
      })
    },
  })
  // the underlying net server: lets tests drop connections and close hung ones at the end
  const net = (server as unknown as { server: import('node:net').Server }).server
  net.prependListener('connection', (socket: Socket) => {
    state.connections++
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    if (mode.kind === 'drop') socket.destroy()
  })

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  server.on('error', () => {})
  const port = (net.address() as import('node:net').AddressInfo).port

  return {
    port,
    url: `smtp://127.0.0.1:${port}`,
    messages: state.messages,
    get connections() {
      return state.connections
    },
    get attempts() {
      return state.attempts
    },
    setMode(next) {
      mode = next
    },
    async waitFor(count, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs
      while (state.messages.length < count) {
        const left = deadline - Date.now()
        if (left <= 0) throw new Error(`expected ${count} emails, got ${state.messages.length} within ${timeoutMs}ms`)
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, left)
          waiters.push(() => {
            clearTimeout(t)
            resolve()
          })
        })
      }
      return state.messages
    },
    async close() {
      for (const h of hung.splice(0)) h()
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
