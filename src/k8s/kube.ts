/**
 * KubeConfig loading and the few helpers every Kubernetes adapter shares (client-node 1.4:
 * `ApiException.code` is the HTTP status, `.body` the raw JSON text of a `Status`).
 */
import { ApiException, KubeConfig, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';

/** From `path`, else `$KUBECONFIG` / `~/.kube/config` / in-cluster, as kubectl does. */
export function loadKubeConfig(path?: string): KubeConfig {
  const kc = new KubeConfig();
  if (path) kc.loadFromFile(path);
  else kc.loadFromDefault();
  return kc;
}

/** Request options that make a patch a JSON merge patch (client-node defaults to JSON-Patch). */
export const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

/** HTTP status of a failed API call; undefined for transport errors (refused, reset, DNS…). */
export function apiStatus(e: unknown): number | undefined {
  if (e instanceof ApiException) return e.code;
  // Watch errors carry `statusCode`; some transport errors carry `code` as a string.
  const code = (e as { statusCode?: unknown } | null)?.statusCode;
  return typeof code === 'number' ? code : undefined;
}

export function isNotFound(e: unknown): boolean {
  return apiStatus(e) === 404;
}

export function isConflict(e: unknown): boolean {
  return apiStatus(e) === 409;
}

/** The server's human message for an API error (its `Status.message`), else the error text. */
export function apiMessage(e: unknown): string {
  if (e instanceof ApiException) {
    const message = parseStatus(e.body)?.message;
    if (message) return message;
  }
  return e instanceof Error ? e.message : String(e);
}

function parseStatus(body: unknown): { message?: string } | undefined {
  if (typeof body === 'object' && body !== null) return body as { message?: string };
  if (typeof body !== 'string') return undefined;
  try {
    const parsed: unknown = JSON.parse(body);
    return typeof parsed === 'object' && parsed !== null
      ? (parsed as { reason?: string; message?: string })
      : undefined;
  } catch {
    return undefined;
  }
}
