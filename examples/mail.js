// Alert email for the examples, imported by them (not run on its own). With FAULTLINE_SMTP_URL set
// (e.g. smtp://user:pass@smtp.example.com:587) alerts go to that server; without it each email is
// printed to the console by faultline's consoleTransport, so alerts show up with no setup at all.
import { consoleTransport } from 'faultline'

const port = Number(process.env.PORT ?? 3000)

/** stdout, with a word after each printed email on how to send it for real */
const stdoutWithHint = {
  write: (text) => process.stdout.write(`${text}(printed, not sent: set FAULTLINE_SMTP_URL=smtp://... to send alerts through a real server)\n\n`),
}

export function exampleMail() {
  return {
    mail: {
      transport: process.env.FAULTLINE_SMTP_URL ?? consoleTransport(stdoutWithHint),
      from: 'faultline <alerts@example.com>',
      to: process.env.FAULTLINE_ALERT_TO ?? 'team@example.com',
      baseUrl: process.env.FAULTLINE_BASE_URL ?? `http://localhost:${port}`,
    },
    rules: [
      { when: 'new' },
      { when: 'regression' },
      { when: { events: 100 } },
    ],
  }
}
