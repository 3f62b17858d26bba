import net from 'node:net'
import { TEST_PG_URL } from './postgres.js'

const target = new URL(TEST_PG_URL)

/** A TCP proxy in front of PostgreSQL that can refuse, or freeze every connection it carries. */
export class PgProxy {
  #server: net.Server | null = null
  #sockets = new Set<net.Socket>()
  frozen = false
  constructor(readonly port: number) {}

  async open(): Promise<void> {
    this.#server = net.createServer((client) => {
      const upstream = net.connect(Number(target.port || 5432), target.hostname)
      for (const s of [client, upstream]) {
        this.#sockets.add(s)
        s.on('error', () => {})
        s.on('close', () => this.#sockets.delete(s))
      }
      client.on('data', (d) => { if (!this.frozen) upstream.write(d) })
      upstream.on('data', (d) => { if (!this.frozen) client.write(d) })
      client.on('close', () => upstream.destroy())
      upstream.on('close', () => client.destroy())
    })
    await new Promise<void>((resolve) => this.#server!.listen(this.port, '127.0.0.1', resolve))
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy()
    if (this.#server) await new Promise((resolve) => this.#server!.close(resolve))
    this.#server = null
  }

  url(): string {
    const url = new URL(TEST_PG_URL)
    url.hostname = '127.0.0.1'
    url.port = String(this.port)
    return url.href
  }
}

export async function freePort(): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as net.AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return port
}

