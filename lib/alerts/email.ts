import { readFileSync } from 'node:fs'
import path from 'node:path'
import ejs from 'ejs'
import { oneLine, type AlertView } from './message.js'
import { escapeHtml } from '../escape-html.js'
import { viewsDir } from '../package-root.js'

/** An email ready for the transport. */
export interface RenderedEmail {
  subject: string
  html: string
  text: string
}

/** One alert that was folded into the summary instead of being sent. */
export interface FoldedAlert {
  headline: string
  title: string
  url: string | null
  count: number
  environment: string
}

/** What the summary email lists. */
export interface SummaryData {
  appName: string
  subjectPrefix: string
  /** alerts folded in this period */
  total: number
  /** the first ones, listed by name */
  items: FoldedAlert[]
  /** events not checked against the rules because the queue was full */
  dropped: number
  maxPerHour: number
  from: Date
  until: Date
  panelUrl: string | null
}

const compiled = new Map<string, ejs.TemplateFunction>()

/** Compiles each template once; `<%= %>` escapes, and the text templates only print plain strings. */
function template(name: string): ejs.TemplateFunction {
  let fn = compiled.get(name)
  if (!fn) {
    const file = path.join(viewsDir, 'mail', name)
    fn = ejs.compile(readFileSync(file, 'utf8'), { filename: file, escape: escapeHtml }) as ejs.TemplateFunction
    compiled.set(name, fn)
  }
  return fn
}

/** Renders the HTML and text parts of an alert email. */
export function renderAlertEmail(view: AlertView): RenderedEmail {
  return {
    subject: view.subject,
    html: template('alert.html.ejs')({ v: view }) as string,
    text: template('alert.text.ejs')({ v: view }) as string,
  }
}

/** Renders the summary that stands for every alert held back by the hourly cap. */
export function renderSummaryEmail(data: SummaryData): RenderedEmail {
  const prefix = data.subjectPrefix || `[${data.appName}]`
  const more = data.total - data.items.length
  const s = {
    ...data,
    subject: oneLine(`${prefix} ${data.total} more alert${data.total === 1 ? '' : 's'} held back by the hourly limit`, 150),
    from: data.from.toISOString(),
    until: data.until.toISOString(),
    more: more > 0 ? more : 0,
  }
  return {
    subject: s.subject,
    html: template('summary.html.ejs')({ s }) as string,
    text: template('summary.text.ejs')({ s }) as string,
  }
}
