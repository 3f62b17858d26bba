// Express 5 with two routes: /ok answers, /fail throws a new message on every request (one call
// site, so one issue with many events). The app's own error handler answers 500 without logging,
// as an app with its own handler would.
import http from 'node:http'
import express from 'express'
import { loadVariant, nextFailure, serve } from './variant.js'

const variant = await loadVariant()
const app = express()
if (variant.tracker) app.use(variant.tracker.express())
if (variant.noop) app.use((req, res, next) => next())
if (variant.als) app.use((req, res, next) => variant.als.run({ req }, next))

app.get('/ok', (req, res) => {
  res.json({ ok: true })
})
app.get('/fail', () => {
  throw new Error(nextFailure())
})

if (variant.Sentry) variant.Sentry.setupExpressErrorHandler(app)
app.use((err, req, res, next) => {
  res.status(500).json({ error: 'internal' })
})

serve(http.createServer(app), variant)
