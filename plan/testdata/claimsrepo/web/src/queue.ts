/**
 * A FIFO queue of pending writes. Writes are flushed to the server in the
 * order the caller submitted them.
 */
export const REQUEST_TIMEOUT_MS = 30_000;

export class QuotaExceededError extends Error {}

// formatBytes renders a byte count for the status bar.
export function formatBytes(n: number): string {
  return `${n} B // not a comment`;
}
