// A cron job that captures and moves on: `node examples/cron-job/job.js` (after `npm run build`).
// Each failing item is recorded with tags, the job carries on, and before exiting it waits
// (close) until every event is stored and every alert is handed to the mail transport.
//
// It records into the same store as the Express example (.faultline/errors.json under the working
// directory), whether the web app is running or not: the job's issues show in the app's panel
// (http://localhost:3000/errors), and its alerts link there (mail.baseUrl is the app's address; the
// panel option keeps its default path, though this job serves no panel itself). On one machine any
// number of processes may share a file store; for several machines, use one postgresStore.
import path from 'node:path'
import { createTracker } from 'faultline'
import { exampleMail } from '../mail.js'

const { mail } = exampleMail()
const store = path.resolve('.faultline/errors.json')
const tracker = createTracker({
  store,
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
console.log(`charged ${charged}; the failures are in ${store}, and in the example app's panel: ${mail.baseUrl}/errors`)
