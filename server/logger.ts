/** Structured logs (pino). Quiet under test runners unless YROOM_LOG_LEVEL says otherwise. */
import { pino, type Logger } from 'pino'

export type { Logger }

export function createLogger(level?: string): Logger {
  const fallback = process.env.VITEST || process.env.NODE_ENV === 'test' ? 'silent' : 'info'
  return pino({ name: 'yroom', level: level ?? process.env.YROOM_LOG_LEVEL ?? fallback })
}
