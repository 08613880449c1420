/**
 * Preloaded once per workflow thread (see `src/workflow-bundle.ts`): zod is then evaluated once and
 * shared by every workflow instead of once per cached workflow (about 700 KB each).
 *
 * Two traps, both measured: listing 'zod' itself in `preloadModules` resolves the CommonJS build, a
 * second copy the workflow code never uses; and a bare `import 'zod'` is dropped from the bundle
 * because zod declares `sideEffects: false`. So zod is used here. Parsing once also fills zod's
 * lazy module-level caches before the SDK freezes the shared modules.
 */
import { z } from 'zod';

const warmUp = z.strictObject({ name: z.string().min(1), at: z.iso.datetime({ offset: true }).optional() });
warmUp.safeParse({ name: 'zod', at: '2026-01-01T00:00:00Z' });
warmUp.safeParse({ name: '', at: 'never', extra: 1 }, { reportInput: true });
