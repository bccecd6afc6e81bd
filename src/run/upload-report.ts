import {ExitCode, PfError} from '../errors.js'
import type {TraceLinks} from '../tracing/links.js'
import type {CreateRunResult} from './create.js'
import type {UploadReport} from './upload-job.js'

/** An error message as a parenthesis inside a sentence. */
const aside = (error: string | undefined) => (error ? ` (${error.replace(/\.$/, '')})` : '')

/**
 * Human lines for run uploads: done (with the portal URL unless the caller prints it as the run's link), or
 * pending with the reason and the way out.
 */
export const describeUploads = (uploads: UploadReport[] | undefined, options: {portalUrl?: boolean} = {}): string[] =>
  (uploads ?? []).flatMap(u => [
    ...u.warnings.map(w => `Warning: ${w}`),
    u.state === 'done'
      ? `Run ${u.run} uploaded to ${u.destination}${options.portalUrl === false ? '.' : `: ${u.portalUrl ?? ''}`}`
      : `Warning: the upload of run ${u.run} to the workspace is pending${aside(u.error)}; \`pf run sync ${u.run}\` finishes it.`,
  ])

/** The run's links, with the portal URL the workspace gave for an uploaded run in place of the built one. */
export const withUploadedLinks = (result: CreateRunResult): TraceLinks | undefined => {
  const uploaded = (result.upload ?? []).filter(u => u.state === 'done' && u.portalUrl).map(u => u.portalUrl!)
  if (!result.links || uploaded.length === 0) return result.links
  return {...result.links, portal: uploaded}
}

/** `--wait`: the run succeeded but its spans or its upload are still pending → exit 3. */
export const deliveryPendingError = (result: CreateRunResult): PfError | undefined => {
  const uploads = (result.upload ?? []).filter(u => u.state === 'pending')
  const spans = result.export.reduce((n, r) => n + r.pending, 0)
  if (uploads.length === 0 && spans === 0) return undefined
  const parts = [
    ...(uploads.length > 0
      ? [`the upload of run ${result.run.name} is pending${aside(uploads[0].error)}; \`pf run sync ${result.run.name}\` finishes it`]
      : []),
    ...(spans > 0 ? [`${spans} span(s) are pending; \`pf trace sync\` sends them`] : []),
  ]
  return new PfError('delivery_pending', `Run ${result.run.name} completed, but ${parts.join(', and ')}.`, ExitCode.pending, {
    run: result.run,
    links: result.links,
    export: result.export,
    upload: result.upload,
  })
}
