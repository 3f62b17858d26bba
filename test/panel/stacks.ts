/** Stacks for the stack trace tests: written out as V8 prints them, so each frame is known. */
import path from 'node:path'
import { ROOT } from './helpers.js'

const at = (file: string) => path.join(ROOT, file)

/**
 * An error thrown in a route, and the database error that caused it, as V8 prints them: the app's
 * frames with the router's between them, and the outer calls both stacks went through.
 */
export function checkoutError(): { error: Error; outerStack: string; causeStack: string } {
  const outerStack = [
    'Error: Payment failed',
    `    at chargeCard (${at('src/payments.js')}:10:11)`,
    `    at Layer.handle (${at('node_modules/router/lib/layer.js')}:152:17)`,
    `    at next (${at('node_modules/router/lib/route.js')}:157:13)`,
    `    at checkout (${at('src/routes.js')}:20:5)`,
    `    at Layer.handle (${at('node_modules/router/lib/layer.js')}:152:17)`,
    '    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)',
  ].join('\n')
  const causeStack = [
    'Error: connect ECONNREFUSED 127.0.0.1:5432',
    `    at Client.connect (${at('node_modules/pg/lib/client.js')}:45:7)`,
    `    at chargeCard (${at('src/payments.js')}:8:3)`,
    `    at Layer.handle (${at('node_modules/router/lib/layer.js')}:152:17)`,
    `    at next (${at('node_modules/router/lib/route.js')}:157:13)`,
    `    at checkout (${at('src/routes.js')}:20:5)`,
    `    at Layer.handle (${at('node_modules/router/lib/layer.js')}:152:17)`,
    '    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)',
  ].join('\n')
  const cause = new Error('connect ECONNREFUSED 127.0.0.1:5432')
  cause.stack = causeStack
  const error = new Error('Payment failed', { cause })
  error.stack = outerStack
  return { error, outerStack, causeStack }
}

