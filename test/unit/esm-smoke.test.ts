import { KubeConfig } from '@kubernetes/client-node';

describe('toolchain', () => {
  it('loads the ESM-only @kubernetes/client-node under Jest', () => {
    const kc = new KubeConfig();
    kc.loadFromString(
      'apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]\nusers: [{name: u, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n',
    );
    expect(kc.getCurrentCluster()?.server).toBe('https://127.0.0.1:1');
  });
});
