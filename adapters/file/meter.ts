/**
 * Measures how long a write keeps the event loop busy between two awaits, in wall time and in
 * the main thread's CPU time (wall time also counts the moments the OS ran other processes, which on a
 * busy machine can exceed the work itself). The file store reports these in `lastWrite`.
 */
import { performance } from 'node:perf_hooks'

export interface WriteStats {
  /** from the start of the write to its end */
  totalMs: number
  /** the longest stretch between two awaits, wall clock */
  longestSliceMs: number
  /** the same stretch measured in CPU time of the main thread (of the process on Node 20) */
  longestSliceCpuMs: number
  /** bytes of the document written */
  bytes: number
}

/**
 * CPU time of the main thread, where the event loop runs: a stretch's own work and the GC pauses it
 * takes part in. The whole process's CPU time would also count the garbage collector's helper
 * threads, running beside the loop, and can read twice the stretch's wall time. Node 20 has no
 * per-thread figure: there the process's is used, which can only read high.
 */
const threadCpuUsage = (process as { threadCpuUsage?: () => NodeJS.CpuUsage }).threadCpuUsage
function cpuMs(): number {
  const { user, system } = threadCpuUsage ? threadCpuUsage.call(process) : process.cpuUsage()
  return (user + system) / 1000
}

export class SliceMeter {
  #started = performance.now()
  #wall = performance.now()
  #cpu = cpuMs()
  longestWall = 0
  longestCpu = 0
  bytes = 0

  /** How long the current slice has run (wall clock). */
  elapsed(): number {
    return performance.now() - this.#wall
  }

  /** Call right before an await: closes the current slice. */
  pause(): void {
    this.longestWall = Math.max(this.longestWall, performance.now() - this.#wall)
    this.longestCpu = Math.max(this.longestCpu, cpuMs() - this.#cpu)
  }

  /** Call right after an await: opens the next slice. */
  resume(): void {
    this.#wall = performance.now()
    this.#cpu = cpuMs()
  }

  stats(): WriteStats {
    return { totalMs: performance.now() - this.#started, longestSliceMs: this.longestWall, longestSliceCpuMs: this.longestCpu, bytes: this.bytes }
  }
}
