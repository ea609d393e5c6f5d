import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { VdetError } from '../../platform/errors.js';
import { TOKENS_PER_STREAM } from '../../store/stream-tokens.js';
import type { ApiDeps } from '../deps.js';
import { problems } from '../problem.js';
import { StreamParams, ownedStream, security } from './streams.js';

const TokenView = Type.Object({
  id: Type.String({ description: 'Also inside the token (vdet_st_{id}_…), to tell which token a camera holds' }),
  createdAt: Type.String(),
  lastUsedAt: Type.Union([Type.String(), Type.Null()], { description: 'Refreshed every few seconds while frames come in with it' }),
});
const Minted = Type.Object({
  stream: Type.String(),
  token: Type.String({ description: 'Shown this once; stored hashed. Send it in each frame\'s `vdet-token` header.' }),
  ...TokenView.properties,
});
const TokenParams = Type.Object({ ...StreamParams.properties, tokenId: Type.String({ pattern: '^[0-9a-f]{12}$' }) });

/**
 * Ingest tokens: the credential a camera or app puts on every frame it pushes into Kafka. A token grants pushing
 * into one stream of one tenant and nothing else; several may be live at once, so a camera moves to a new token
 * before the old one is revoked.
 */
export const streamTokenRoutes: FastifyPluginAsyncTypebox<Pick<ApiDeps, 'streams' | 'streamTokens'>> = async (app, deps) => {
  app.post('/v1/streams/:id/tokens', {
    schema: {
      summary: 'Mint an ingest token for a stream (shown once)',
      description: `Frames pushed to \`vdet.frames\` with this token in the \`vdet-token\` header and the stream id as key reach this stream. At most ${TOKENS_PER_STREAM} tokens a stream.`,
      tags: ['streams'], security, params: StreamParams, response: { 201: Minted, ...problems(400, 401, 404, 409, 429) },
    },
  }, async (request, reply) => {
    const record = await ownedStream(deps, request.tenant, request.params.id);
    const minted = await deps.streamTokens.mint(record);
    if (!minted) throw new VdetError('VDET_STREAM_TOKEN_LIMIT', `The stream has ${TOKENS_PER_STREAM} ingest tokens, the most it may; revoke one first.`);
    return reply.code(201).send({ stream: record.name, token: minted.token, ...minted.view });
  });

  app.get('/v1/streams/:id/tokens', {
    schema: {
      summary: "A stream's ingest tokens (never the secrets)",
      tags: ['streams'], security, params: StreamParams,
      response: { 200: Type.Object({ items: Type.Array(TokenView) }), ...problems(400, 401, 404, 429) },
    },
  }, async (request) => ({ items: await deps.streamTokens.list(await ownedStream(deps, request.tenant, request.params.id)) }));

  app.delete('/v1/streams/:id/tokens/:tokenId', {
    schema: {
      summary: 'Revoke an ingest token (frames with it are dead-lettered within about 2 s)',
      tags: ['streams'], security, params: TokenParams, response: { 204: { type: 'null', description: 'Removed' }, ...problems(400, 401, 404, 429) },
    },
  }, async (request, reply) => {
    const record = await ownedStream(deps, request.tenant, request.params.id);
    if (!(await deps.streamTokens.revoke(record, request.params.tokenId))) {
      throw new VdetError('VDET_STREAM_TOKEN_NOT_FOUND', 'The stream has no ingest token with this id.');
    }
    return reply.status(204).send(null);
  });
};
