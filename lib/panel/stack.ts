/**
 * How a stack trace reads on the issue page, in one of three views chosen by a link (`?view=`):
 *
 *   app    (the default) the app's own frames, with the library frames between them folded into
 *          one "N library frames" line that opens on click (`<details>`, no script)
 *   full   every frame, unfolded
 *   raw    the stack as text, as V8 prints it, to copy
 *
 * A cause's frames that the error above it showed already (the outer calls both went through)
 * are not repeated: the page says how many there were instead.
 */
import type { ExceptionInfo, StackFrame } from '../types.js'

export const STACK_VIEWS = ['app', 'full', 'raw'] as const
export type StackView = (typeof STACK_VIEWS)[number]

/** The view a page's `view` parameter asks for: the default when absent, null when it names none. */
export function stackView(value: string | null): StackView | null {
  if (value === null || value === '') return 'app'
  return (STACK_VIEWS as readonly string[]).includes(value) ? (value as StackView) : null
}

/** A run of frames shown together: one in-app frame, or library frames folded into one line. */
export interface FrameGroup<F> {
  folded: boolean
  frames: F[]
}

/**
 * Frames (newest first) as the view shows them. The app view folds each run of library frames
 * between the app's own; a stack with no frame of the app's has nothing to fold them around, and
 * is shown whole, as in the full view.
 */
export function groupFrames<F extends Pick<StackFrame, 'in_app'>>(frames: F[], view: StackView): Array<FrameGroup<F>> {
  if (frames.length === 0) return []
  if (view !== 'app' || !frames.some((frame) => frame.in_app)) return [{ folded: false, frames }]
  const groups: Array<FrameGroup<F>> = []
  for (const frame of frames) {
    const last = groups[groups.length - 1]
    if (frame.in_app) groups.push({ folded: false, frames: [frame] })
    else if (last?.folded) last.frames.push(frame)
    else groups.push({ folded: true, frames: [frame] })
  }
  return groups
}

/**
 * How many of a cause's frames, from the outermost call, are the same calls as the error above
 * it made: those were shown with that error. Frames are stored oldest call first, so both lists
 * are compared from their start. The cause keeps at least its newest frame, where it was thrown.
 */
export function framesInCommon(outer: StackFrame[], inner: StackFrame[]): number {
  const most = Math.min(outer.length, inner.length - 1)
  let n = 0
  while (n < most && sameCall(outer[n], inner[n])) n++
  return n
}

function sameCall(a: StackFrame, b: StackFrame): boolean {
  return a.function === b.function && a.filename === b.filename && a.abs_path === b.abs_path && a.lineno === b.lineno && a.colno === b.colno
}

/**
 * The exception and its causes as V8 prints a stack (`Type: message`, then `    at fn (file:line:col)`,
 * newest call first), each cause after a `Caused by:` line; frames dropped from the middle of a
 * deep stack are said where they were.
 */
export function rawStack(chain: Array<Omit<ExceptionInfo, 'causes'>>): string {
  return chain.map((exception, i) => (i > 0 ? 'Caused by: ' : '') + rawOne(exception)).join('\n')
}

function rawOne(exception: Omit<ExceptionInfo, 'causes'>): string {
  const lines = [exception.value ? `${exception.type}: ${exception.value}` : exception.type]
  const frames = exception.stacktrace?.frames ?? []
  const omitted = exception.stacktrace?.frames_omitted
  for (let i = frames.length - 1; i >= 0; i--) {
    lines.push(`    at ${rawFrame(frames[i])}`)
    // the frames dropped lie between stored frames omitted[0] - 1 and omitted[0]
    if (omitted && i === omitted[0] && i > 0) lines.push(`    ... ${omitted[1] - omitted[0]} frames omitted`)
  }
  return lines.join('\n')
}

function rawFrame(frame: StackFrame): string {
  // a frame mapped through a source map shows where the compiled code ran, as the stack said it
  const ran = frame.raw ?? frame
  let where = (frame.raw ? frame.raw.filename : frame.abs_path ?? frame.filename) ?? '<anonymous>'
  if (ran.lineno !== undefined) where += `:${ran.lineno}`
  if (ran.lineno !== undefined && ran.colno !== undefined) where += `:${ran.colno}`
  const name = ran.function ?? frame.function
  return name ? `${name} (${where})` : where
}
