/**
 * Apart from ./kube.ts so that the CLI can recognise it without loading the Kubernetes client.
 * The kubeconfig cannot be used as asked: names the files, and the contexts there are.
 */
export class KubeConfigError extends Error {
  override readonly name = 'KubeConfigError';
}
