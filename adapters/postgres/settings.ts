/**
 * The PostgreSQL store's small shared values: when each alert rule last fired, and settings every
 * instance must agree on (the first instance to claim one decides its value).
 */
import { checkRuleFired, checkSetting } from '../shared/arguments.js'
import type { Query } from './connection.js'
import type { Tables } from './schema.js'
import { clean, toDate } from './rows.js'

export class Settings {
  #query: Query
  #read: Query
  #tables: Tables

  constructor(query: Query, read: Query, tables: Tables) {
    this.#query = query
    this.#read = read
    this.#tables = tables
  }

  async noteRuleFired(ruleKey: string, at: Date): Promise<void> {
    const checked = checkRuleFired(ruleKey, at)
    // the latest firing wins, whichever instance says so last
    await this.#query('noteRuleFired',
      `INSERT INTO ${this.#tables.ruleFirings} AS f (rule_key, fired_at) VALUES ($1, $2)
       ON CONFLICT (rule_key) DO UPDATE SET fired_at = greatest(f.fired_at, excluded.fired_at)`, [clean(checked.ruleKey), new Date(checked.at)])
  }

  async ruleFirings(): Promise<Record<string, string>> {
    const { rows } = await this.#read('ruleFirings', `SELECT rule_key, fired_at FROM ${this.#tables.ruleFirings} ORDER BY rule_key COLLATE "C"`)
    const firings: Record<string, string> = {}
    for (const row of rows) firings[row.rule_key] = toDate(row.fired_at).toISOString()
    return firings
  }

  async claimSetting(name: string, value: string): Promise<string> {
    const checked = checkSetting(name, value)
    // one statement that always returns the row: a claimer that loses the race waits for the winner's
    // commit and then updates nothing but gets the winner's value (DO NOTHING would return no row)
    const { rows } = await this.#query('claimSetting',
      `INSERT INTO ${this.#tables.settings} AS s (name, value) VALUES ($1, $2)
       ON CONFLICT (name) DO UPDATE SET value = s.value RETURNING value`, [clean(checked.name), clean(checked.value)])
    return rows[0].value
  }
}
