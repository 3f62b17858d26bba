// Koa 3 with two routes: /ok answers, /fail throws a new message on every request (one call
// site, so one issue with many events). `app.silent` keeps Koa's default error log off, as the
// Sentry variant's own 'error' listener does, so every variant does the same work per failure.
import http from 'node:http'
import Koa from 'koa'
import { loadVariant, nextFailure, serve } from './variant.js'

const variant = await loadVariant()
const app = new Koa()
app.silent = true
if (variant.tracker) app.use(variant.tracker.koa())
if (variant.noop) app.use((ctx, next) => next())
if (variant.als) app.use((ctx, next) => variant.als.run({ ctx }, next))

app.use(async (ctx) => {
  if (ctx.path === '/ok') {
    ctx.body = { ok: true }
  } else if (ctx.path === '/fail') {
    throw new Error(nextFailure())
  } else {
    ctx.status = 404
  }
})

if (variant.Sentry) variant.Sentry.setupKoaErrorHandler(app)

serve(http.createServer(app.callback()), variant)
