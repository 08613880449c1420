import { createServer } from 'node:net';
import { ephemeralPortRange, freePort, portIsFree } from '../../../src/dev/stack/proc';

describe('freePort', () => {
  it('picks ports below the kernel ephemeral range, where no outgoing connection can take them before the bind', async () => {
    const [low] = ephemeralPortRange();
    const ports = await Promise.all(Array.from({ length: 20 }, () => freePort()));
    for (const port of ports) {
      expect(port).toBeGreaterThanOrEqual(20_000);
      expect(port).toBeLessThan(low);
    }
  });

  it('gives a port that can be listened on', async () => {
    const port = await freePort();
    expect(await portIsFree(port)).toBe(true);
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    expect(await portIsFree(port)).toBe(false);
    await new Promise((resolve) => server.close(resolve));
  });
});
