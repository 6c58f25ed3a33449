import { z } from 'zod';
import type { ZodOpenApiPathsObject } from 'zod-openapi';
import { json, operation } from '../operation.ts';

export const machineDefinition = z
  .object({
    id: z.string(),
    version: z.int().min(1).meta({ description: 'the version of its persisted snapshots' }),
    definition: z.record(z.string(), z.unknown()).meta({ description: "the machine's `toJSON()`, which Stately's editor imports (without eventless transitions)" }),
    diagram: z.string().regex(/^stateDiagram-v2/).meta({ description: 'the machine as a Mermaid `stateDiagram-v2`, eventless transitions included' }),
  })
  .meta({ id: 'MachineDefinition' });

const machine = (name: 'payment' | 'settlement') =>
  operation('get', {
    operationId: `get${name[0]!.toUpperCase()}${name.slice(1)}Machine`,
    summary: `The ${name} machine's definition`,
    tag: 'Machines',
    responses: { 200: json('id, snapshot version, definition and diagram', machineDefinition) },
  });

export const machinePaths: ZodOpenApiPathsObject = {
  '/v1/machines/payment': { get: machine('payment') },
  '/v1/machines/settlement': { get: machine('settlement') },
};
