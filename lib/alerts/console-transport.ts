/** Where the console transport writes: process.stdout by default, or any stream-like object. */
export interface TextOutput {
  write(text: string): unknown
}

/** The nodemailer transport plugin shape: nodemailer builds the message and hands it to `send`. */
export interface ConsoleTransport {
  name: string
  version: string
  send(mail: { data: Record<string, unknown>; message: { messageId(): string } }, done: (err: Error | null, info?: unknown) => void): void
}

/**
 * A mail transport that prints each alert email (sender, recipients, subject and text) instead of
 * sending it: for development and examples, where no SMTP server is set up. Pass it as
 * `mail.transport`; it writes to `out`, process.stdout unless told otherwise.
 */
export function consoleTransport(out: TextOutput = process.stdout): ConsoleTransport {
  return {
    name: 'faultline-console',
    version: '1.0.0',
    send(mail, done) {
      const d = mail.data
      const to = Array.isArray(d.to) ? d.to.join(', ') : String(d.to ?? '')
      const rule = '='.repeat(72)
      out.write(`\n${rule}\nFrom: ${String(d.from ?? '')}\nTo: ${to}\nSubject: ${String(d.subject ?? '')}\n${rule}\n${String(d.text ?? '')}\n${rule}\n`)
      done(null, { messageId: mail.message.messageId(), printed: true })
    },
  }
}
