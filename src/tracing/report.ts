import type {TraceLinks} from './links.js'
import type {ExportReport} from './session.js'

/** Human lines for the links a traced command prints (stderr, so stdout stays the flow's output). */
export const describeLinks = (links: TraceLinks | undefined): string[] => {
  if (!links) return []
  const lines = links.viewerStarted
    ? [`Trace: ${links.local} (started the trace viewer in the background; \`pf service stop\` stops it)`]
    : links.viewerRunning
      ? [`Trace: ${links.local}`]
      : [`Trace: ${links.local} (start the viewer with \`pf service start\`)`]
  for (const url of links.portal) lines.push(`Portal: ${url}`)
  return lines
}

/** One line per remote destination that still has spans waiting, so nothing pending goes unnoticed. */
export const describeExport = (reports: ExportReport[]): string[] =>
  reports
    .filter(r => r.pending > 0 || r.parked > 0)
    .map(r => {
      const parts = []
      if (r.pending > 0) parts.push(`${r.pending} span(s) pending for ${r.destination}; \`pf trace sync\` sends them`)
      if (r.parked > 0) parts.push(`${r.parked} span(s) rejected by ${r.destination}; see \`pf trace list --pending\``)
      return `Warning: ${parts.join('; ')}${r.lastError ? ` (last error: ${r.lastError})` : ''}.`
    })
