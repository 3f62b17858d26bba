// A cron job that captures and moves on: `node examples/cron-job/job.js`.
// Each failing item is recorded with tags, the job carries on, and before exiting it waits
// (flush) until every event is stored and every alert is handed to the mail transport.
import path from 'node:path'
import { createTracker } from 'faultline'
import { exampleMail } from '../mail.js'

const { mail } = exampleMail()
const tracker = createTracker({
  store: path.resolve('.faultline/cron-errors.json'),
  appName: 'nightly-billing',
  mail,
  // only the billing job's failures page anyone; other jobs' errors and the run summary are recorded quietly
  rules: [{ when: 'new', filter: { tags: { job: 'billing' }, level: ['fatal', 'error'] } }],
})

const invoices = [{ id: 1, amount: 30 }, { id: 2, amount: null }, { id: 3, amount: 12 }]

async function charge(invoice) {
  if (invoice.amount === null) throw new Error(`Invoice ${invoice.id} has no amount`)
  return invoice.amount
}

let charged = 0
for (const invoice of invoices) {
  await tracker.withScope(async (scope) => {
    scope.setTags({ job: 'billing', invoice: String(invoice.id) })
    try {
      charged += await charge(invoice)
    } catch (err) {
      tracker.captureException(err)
    }
  })
}
tracker.captureMessage(`Billing run finished: charged ${charged}`, { tags: { job: 'billing' } })

await tracker.close()
console.log(`charged ${charged}; failures are in ${path.resolve('.faultline/cron-errors.json')}`)
