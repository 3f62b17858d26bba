// A cron job that captures and moves on: `node examples/cron-job/job.js` (after `npm run build`).
// Each failing item is recorded with tags, the job carries on, and before exiting it waits
// (flush) until every event is stored and every alert is handed to the mail transport.
//
// The job keeps its own store (.faultline/cron-errors.json: issues; .faultline/cron-errors.events/:
// each issue's events, one JSON object a line), because a store file belongs to one process at a
// time. The Express example's panel reads .faultline/errors.json, so it does not show these issues,
// and this job serves no panel of its own: `panel: false` keeps links to one out of its alert emails.
// In production, point the job and the web app at one postgresStore, keep the panel option at its
// default and set mail.baseUrl to the app's address: the alerts then link to the app's panel, which
// shows the job's issues too.
import path from 'node:path'
import { createTracker } from 'faultline'
import { exampleMail } from '../mail.js'

// the examples' mail settings without baseUrl: there is no panel here to link to
const { baseUrl, ...mail } = exampleMail().mail
const store = path.resolve('.faultline/cron-errors.json')
const tracker = createTracker({
  store,
  appName: 'nightly-billing',
  panel: false,
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
console.log(`charged ${charged}; this job serves no panel, its issues are in its own store:`)
console.log(`  issues: ${store}`)
console.log(`  events: ${store.replace(/\.json$/, '.events')}${path.sep} (one JSON object a line)`)
