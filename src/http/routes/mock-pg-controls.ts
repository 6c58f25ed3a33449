import type Router from '@koa/router';
import type { Middleware } from 'koa';
import { notFound } from '../../errors.ts';
import { chaosSettingsSchema } from '../../mock-pg/chaos.ts';
import type { MockPgControls } from '../../pg/mock-pg-controls.ts';
import { exactRouter } from '../router.ts';
import { validate } from '../validate.ts';

/** A change names at least one setting: an empty body is more likely a mistake than a wish to change nothing. */
export const chaosChanges = chaosSettingsSchema.refine((changes) => Object.keys(changes).length > 0, 'name at least one setting');

/**
 * `GET` and `POST /v1/admin/mock-pg/chaos`: the local mock PG's chaos settings, read and
 * changed through the service (the console's controls). A 404 when the PG is not our mock.
 */
export function mockPgControlRoutes(controls: MockPgControls | undefined, admin: Middleware): Router {
  const router = exactRouter();
  const available = (): MockPgControls => {
    if (!controls) throw notFound('A mock PG of this service');
    return controls;
  };
  router.get('/v1/admin/mock-pg/chaos', admin, async (ctx) => {
    ctx.body = await available().chaos();
  });
  router.post('/v1/admin/mock-pg/chaos', admin, async (ctx) => {
    const changes = validate(chaosChanges, ctx.request.body);
    ctx.body = await available().setChaos(changes);
  });
  return router;
}
