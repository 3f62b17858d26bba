// Preloaded with `node --import`: Sentry must be initialised before express or koa is imported,
// as its documentation requires. Errors only: no tracesSampleRate, the default integrations.
import * as Sentry from '@sentry/node'

Sentry.init({ dsn: process.env.SENTRY_DSN })
