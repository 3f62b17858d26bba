/** The store conformance suite against PostgreSQL: one schema for this file, emptied before each test. */
import { afterAll, describe, it } from 'vitest'
import { postgresStore } from '../../adapters/postgres.js'
import { testPostgres } from '../helpers/postgres.js'
import { storeConformance } from '../../testing/index.js'

const pg = await testPostgres()

describe.skipIf(!pg.available)('postgres', () => {
  const schema = pg.newSchema()

  afterAll(async () => {
    await pg.dropSchema(schema)
  })

  storeConformance('postgres', async () => {
    const store = postgresStore({ connectionString: pg.url, schema })
    await store.countIssues() // creates the tables on first use
    // DELETE, not TRUNCATE: on a handful of rows it takes no table locks and no file work; the rest cascades
    await pg.query(`DELETE FROM "${schema}".faultline_issues; DELETE FROM "${schema}".faultline_alerts; DELETE FROM "${schema}".faultline_settings; DELETE FROM "${schema}".faultline_rule_firings`)
    return store
  }, { describe, it })
})
