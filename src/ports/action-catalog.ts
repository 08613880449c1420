import type { CatalogEntry } from '../domain/catalog';

export type { CatalogEntry };

/**
 * The operators' action catalog (`RemediationAction` objects in the control namespace), read from
 * a watch-backed cache: a lookup never costs an API call. Entries are parsed; an invalid object is
 * listed with its problems so it is refused, never half-applied.
 */
export interface ActionCatalog {
  /** The entry for `id`, or undefined when there is none. Throws {@link CatalogUnavailableError} before the first sync. */
  get(id: string): Promise<CatalogEntry | undefined>;
  /** Every entry, sorted by id. Throws {@link CatalogUnavailableError} before the first sync. */
  list(): Promise<CatalogEntry[]>;
}

/** The cache has not synced yet (or lost its watch and cannot list): callers retry, never fail open. */
export class CatalogUnavailableError extends Error {
  override readonly name = 'CatalogUnavailableError';
}

/** The catalog API, as the CRD defines it. */
export const catalogApi = {
  group: 'remediation.dev',
  version: 'v1alpha1',
  plural: 'remediationactions',
  kind: 'RemediationAction',
} as const;
