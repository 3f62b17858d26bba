/**
 * The PostgreSQL store's small shared values: when each alert rule last fired, and settings every
 * instance must agree on (the first instance to claim one decides its value).
 */
import { checkDate } from '../shared/arguments.js'
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
    checkName('ruleKey', ruleKey)
    const time = checkDate('at', at)
    // the latest firing wins, whichever instance says so last
    await this.#query('noteRuleFired',
      `INSERT INTO ${this.#tables.ruleFirings} AS f (rule_key, fired_at) VALUES ($1, $2)
       ON CONFLICT (rule_key) DO UPDATE SET fired_at = greatest(f.fired_at, excluded.fired_at)`, [clean(ruleKey), new Date(time)])
  }

  async ruleFirings(): Promise<Record<string, string>> {
    const { rows } = await this.#read('ruleFirings', `SELECT rule_key, fired_at FROM ${this.#tables.ruleFirings}`)
    const firings: Record<string, string> = {}
    for (const row of rows) firings[row.rule_key] = toDate(row.fired_at).toISOString()
    return firings
  }

  async claimSetting(name: string, value: string): Promise<string> {
    checkName('name', name)
    if (typeof value !== 'string') throw new TypeError(`setting value must be a string, got ${typeof value}`)
    // one statement that always returns the row: a claimer that loses the race waits for the winner's
    // commit and then updates nothing but gets the winner's value (DO NOTHING would return no row)
    const { rows } = await this.#query('claimSetting',
      `INSERT INTO ${this.#tables.settings} AS s (name, value) VALUES ($1, $2)
       ON CONFLICT (name) DO UPDATE SET value = s.value RETURNING value`, [clean(name), clean(value)])
    return rows[0].value
  }
}

function checkName(what: string, name: unknown): void {
  if (typeof name !== 'string' || name === '' || name.length > 1000) throw new TypeError(`${what} must be a non-empty string of at most 1000 characters`)
}
