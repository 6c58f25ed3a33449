import type { Sql } from './sql.ts';

/** Takes (or renews) a named lock across processes sharing the file. */
export async function acquireLock(q: Sql, name: string, owner: string, now: number, ttlMs: number): Promise<boolean> {
  const params = { name, owner, now, expiresAt: now + ttlMs };
  await q.run('insert into locks (name, owner, expires_at) values (@name, @owner, @expiresAt) on conflict do nothing', params);
  const taken = await q.run(
    'update locks set owner = @owner, expires_at = @expiresAt where name = @name and (owner = @owner or expires_at < @now)',
    params,
  );
  return taken === 1;
}

export async function releaseLock(q: Sql, name: string, owner: string): Promise<void> {
  await q.run('update locks set expires_at = 0 where name = @name and owner = @owner', { name, owner });
}
