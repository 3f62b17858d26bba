import { describe, expect, it } from 'vitest'
import request from 'supertest'
import { memoryStore } from '../../adapters/memory.js'
import { groupEvent, userKey } from '../../common/fingerprint.js'
import type { FaultlineEvent } from '../../lib/types.js'
import { panelServer } from '../panel/helpers.js'

const HOSTILE_URL = 'https://shop.example/assets/app.min.js?v=<script>alert(1)</script>'

/** An event as stored after its frames were mapped: the original frame first, the compiled one in `raw`. */
function mappedEvent(): FaultlineEvent {
  return {
    event_id: 'a'.repeat(32),
    timestamp: new Date().toISOString(),
    level: 'error',
    tags: {},
    extra: {},
    contexts: {},
    breadcrumbs: [],
    environment: 'production',
    fingerprint: ['{{ default }}'],
    exception: {
      type: 'Error',
      value: 'bad quantity for A1',
      stacktrace: {
        frames: [
          { function: 'checkout', filename: 'src/main.ts', lineno: 5, colno: 10, in_app: true, raw: { filename: HOSTILE_URL, lineno: 1, colno: 119, function: 'o' } },
          {
            function: 'computeTotal', filename: 'src/cart.ts', lineno: 9, colno: 13, in_app: true,
            pre_context: ['    if (line.qty <= 0) {'], context_line: '      throw new Error(`bad quantity for ${line.sku}`)', post_context: ['    }'],
            raw: { filename: HOSTILE_URL, lineno: 1, colno: 41, function: 'e' },
          },
          { function: 'HTMLButtonElement.onclick', filename: 'https://shop.example/', lineno: 3, colno: 7, in_app: false },
        ],
      },
    },
  }
}

describe('the panel shows where mapped frames ran', () => {
  it('gives the compiled file, line and column beside the original, escaped', async () => {
    const store = memoryStore()
    const event = mappedEvent()
    const { issue } = await store.record({ event, grouping: groupEvent(event), userKey: userKey(event.user) })
    const res = await request(panelServer(store)).get(`/errors/issues/${issue.id}`).expect(200)
    const text = res.text.replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ')
    expect(text).toContain('computeTotal at src/cart.ts :9:13 (compiled: https://shop.example/assets/app.min.js?v=&lt;script&gt;alert(1)&lt;/script&gt;:1:41)')
    expect(text).toContain('checkout at src/main.ts :5:10 (compiled: https://shop.example/assets/app.min.js?v=&lt;script&gt;alert(1)&lt;/script&gt;:1:119)')
    expect(res.text).not.toContain('<script>alert(1)')
    // a frame that was not mapped says nothing of the kind
    expect(text).toMatch(/HTMLButtonElement\.onclick at https:\/\/shop\.example\/ :3:7 (?!\(compiled)/)
    await store.close()
  })
})
