import { request } from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';

/** What `kubectl get` prints, as the API server renders it. */
export interface Table {
  columnDefinitions: { name: string }[];
  rows: { cells: unknown[] }[];
}

/** GET a server-side rendered table (what `kubectl get` prints), over the kubeconfig's TLS identity. */
export async function getTable(kc: KubeConfig, path: string): Promise<Table> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('kubeconfig has no current cluster');
  const options: Parameters<typeof request>[1] = {
    method: 'GET',
    headers: { Accept: 'application/json;as=Table;v=v1;g=meta.k8s.io' },
  };
  await kc.applyToHTTPSOptions(options);
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, cluster.server), options, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () =>
        res.statusCode === 200
          ? resolve(JSON.parse(text) as Table)
          : reject(new Error(`GET ${path}: HTTP ${res.statusCode}: ${text}`)),
      );
    });
    req.on('error', reject);
    req.end();
  });
}
