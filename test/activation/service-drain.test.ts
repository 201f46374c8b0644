/** drainOutbox: concurrent callers take turns, so each returns with what was due sent. */
import { afterEach, expect, it } from 'vitest';
import { World } from './flow-support.js';

let w: World | undefined;
afterEach(async () => {
  await w?.close();
  w = undefined;
});

it('a drain that starts while another holds a message mid-send returns only once it is sent', async () => {
  w = await World.start('sqlite');
  const org = await w.organisation('Postgang ApS');
  for (let round = 0; round < 5; round++) {
    const email = `drain.${round}.${Date.now().toString(36)}@flow.example`;
    const r = await w.post(
      '/api/admin/users',
      {
        firstName: 'Dorte',
        surname: 'Drain',
        email,
        cpr: `0101${String(round).padStart(2, '0')}4321`,
      },
      org.userAdmin,
    );
    expect(r.status).toBe(201);
    // The first drain claims the activation mail; the second finds it claimed. The second must
    // still not return before the mail is in the mailbox.
    const first = w.svc.drainOutbox();
    await w.svc.drainOutbox();
    const listed = await w.get(`/api/dev/mailbox?to=${encodeURIComponent(email)}`);
    expect((listed.body.messages as unknown[]).length).toBe(1);
    await first;
  }
});
