// Alert email for the examples, imported by them (not run on its own). With FAULTLINE_SMTP_URL set
// (e.g. smtp://user:pass@smtp.example.com:587) alerts go to that server; without it each email is
// printed to the console, so alerts show up with no setup at all.
const port = Number(process.env.PORT ?? 3000)

/** A transporter (anything with sendMail) that prints the email instead of sending it. */
const consoleTransporter = {
  async sendMail(message) {
    const line = '-'.repeat(72)
    console.log(`\n${line}\nALERT EMAIL to ${[].concat(message.to).join(', ')}\nSubject: ${message.subject}\n\n${message.text}\n${line}`)
    console.log('(printed, not sent: set FAULTLINE_SMTP_URL=smtp://... to send alerts through a real server)\n')
    return { messageId: 'console' }
  },
}

export function exampleMail() {
  return {
    mail: {
      transport: process.env.FAULTLINE_SMTP_URL ?? consoleTransporter,
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
