import { randomBytes } from 'node:crypto';
import type Router from '@koa/router';
import { exactRouter } from '../router.ts';
import type { Database } from '../../../db/connection.ts';
import { findProduct, insertProduct, listProducts, type Product } from '../../../db/products-repo.ts';
import { AppError, notFound } from '../../errors.ts';
import { pathId, productBody, productListQuery } from '../schemas.ts';
import { validate } from '../validate.ts';
import type { Middleware } from 'koa';

const toResource = (p: Product) => ({
  id: p.id,
  name: p.name,
  price: p.price,
  currency: p.currency,
  stock: p.stock,
  partnerId: p.partnerId,
});

export function productRoutes(db: Database, admin: Middleware, clock: () => number): Router {
  const router = exactRouter();

  router.post('/v1/products', admin, async (ctx) => {
    const body = validate(productBody, ctx.request.body);
    const id = body.id ?? `prod_${randomBytes(8).toString('hex')}`;
    const product = { ...body, id, createdAt: clock() };
    if (!(await db.commit.run((tx) => insertProduct(tx, product)))) {
      throw new AppError(409, 'conflict', `A product with id ${id} exists`);
    }
    ctx.status = 201;
    ctx.body = toResource((await findProduct(db.read, id))!);
  });

  router.get('/v1/products', async (ctx) => {
    const { limit, cursor } = validate(productListQuery, ctx.query);
    const rows = await listProducts(db.read, cursor, limit + 1);
    const page = rows.slice(0, limit);
    ctx.body = { data: page.map(toResource), nextCursor: rows.length > limit ? page.at(-1)!.id : null };
  });

  router.get('/v1/products/:id', async (ctx) => {
    const { id } = validate(pathId, ctx.params);
    const product = await findProduct(db.read, id);
    if (!product) throw notFound(`Product ${id}`);
    ctx.body = toResource(product);
  });

  return router;
}
