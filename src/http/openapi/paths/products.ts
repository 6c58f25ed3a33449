import { z } from 'zod';
import type { ZodOpenApiPathsObject } from 'zod-openapi';
import { pathId, productBody, productListQuery } from '../../schemas.ts';
import { json, jsonBody, operation } from '../operation.ts';
import { productResource } from '../payment-resources.ts';

const tag = 'Products';

export const productPaths: ZodOpenApiPathsObject = {
  '/v1/products': {
    post: operation('post', {
      operationId: 'createProduct',
      summary: 'Create a product with its stock',
      tag,
      admin: true,
      requestBody: jsonBody(productBody),
      responses: { 201: json('the product', productResource) },
      problems: { 400: { validation_failed: 'a field breaks its rule' }, 409: { conflict: 'a product with that id exists' } },
    }),
    get: operation('get', {
      operationId: 'listProducts',
      summary: 'Every product, by id, a page at a time',
      tag,
      requestParams: { query: productListQuery },
      responses: {
        200: json(
          'a page of products',
          z.object({ data: z.array(productResource), nextCursor: z.string().nullable().meta({ description: 'the last id of this page; null on the last page' }) }),
        ),
      },
      problems: { 400: { validation_failed: '`limit` or `cursor` breaks its rule' } },
    }),
  },
  '/v1/products/{id}': {
    get: operation('get', {
      operationId: 'getProduct',
      summary: 'Read a product; `stock` is what is still available',
      tag,
      requestParams: { path: pathId },
      responses: { 200: json('the product', productResource) },
      problems: { 400: { validation_failed: '`id` is longer than 255 characters' }, 404: { not_found: 'no such product' } },
    }),
  },
};
