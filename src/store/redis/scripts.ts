import { createHash } from 'node:crypto';
import { UNINDEXED_AUDIT_ACTION } from '../audit-filter.js';
import { LISTED_TOKEN_FIELDS, STORED_TOKEN_FIELDS } from './codec.js';
import type { RedisClient } from './connection.js';

/**
 * The Lua scripts behind every multi-key change. A script runs atomically on the server, so
 * a record and its indexes never disagree, and a publish inside a script goes out exactly
 * when its change happened. Dynamic keys (`<prefix>session:<jti>`) are built inside the
 * script from prefixes passed in ARGV; that is legal on a cluster only because every key of
 * the store carries the same hash tag (see `keys.ts`).
 */
export interface LuaScript {
  readonly source: string;
  readonly sha: string;
}

export const lua = (source: string): LuaScript => ({
  source,
  sha: createHash('sha1').update(source).digest('hex'),
});

/**
 * Runs a script by hash, sending its source once when the server does not know it yet (a
 * restarted server, or another node of a cluster). `buffers` keeps bulk replies as bytes.
 */
export async function runScript(
  client: RedisClient,
  script: LuaScript,
  keys: string[],
  args: (string | Buffer | number)[],
  buffers = false,
): Promise<unknown> {
  const call = (command: string, body: string) =>
    buffers
      ? client.callBuffer(command, body, keys.length, ...keys, ...args)
      : client.call(command, body, keys.length, ...keys, ...args);
  try {
    return await call('EVALSHA', script.sha);
  } catch (error) {
    if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
    return call('EVAL', script.source);
  }
}

// --- admin sessions -------------------------------------------------------------------
// KEYS: by-created index, by-exp index, version. ARGV: session key prefix, channel, event id
// (see feed.ts), ...

const SESSION_PRELUDE = `
local byCreated, byExp, versionKey = KEYS[1], KEYS[2], KEYS[3]
local sessionPrefix, channel, eventId = ARGV[1], ARGV[2], ARGV[3]
local function publish(event)
  redis.call('PUBLISH', channel, cjson.encode({id = eventId, e = event}))
end
-- A store whose version key is missing is at version 1 (see migrate).
local function currentVersion()
  return tonumber(redis.call('GET', versionKey) or '1')
end
local function isActive(fields, nowSeconds)
  return fields[1] and not fields[3] and tonumber(fields[1]) > nowSeconds
    and tonumber(fields[2]) == currentVersion()
end
`;

/** ARGV[4] jti, [5] createdAtMs, [6] exp, [7] ttl ms, [8] iat, [9] v, [10..] hash fields. */
export const CREATE_SESSION = lua(`${SESSION_PRELUDE}
local key = sessionPrefix .. ARGV[4]
if redis.call('EXISTS', key) == 1 then return redis.error_reply('ERR tessera: session exists') end
redis.call('HSET', key, unpack(ARGV, 10))
redis.call('PEXPIRE', key, ARGV[7])
redis.call('ZADD', byCreated, ARGV[5], ARGV[4])
redis.call('ZADD', byExp, ARGV[6], ARGV[4])
publish({type = 'created', jti = ARGV[4], iat = tonumber(ARGV[8]), exp = tonumber(ARGV[6]), v = tonumber(ARGV[9])})
return 1`);

/**
 * Every session hash, newest first (equal createdAtMs: jti descending, bytewise, as ZREVRANGE
 * orders members). Drops index members whose hash the TTL removed.
 */
export const LIST_SESSIONS = lua(`${SESSION_PRELUDE}
local out = {}
for _, jti in ipairs(redis.call('ZREVRANGE', byCreated, 0, -1)) do
  local fields = redis.call('HGETALL', sessionPrefix .. jti)
  if #fields == 0 then
    redis.call('ZREM', byCreated, jti)
    redis.call('ZREM', byExp, jti)
  else
    out[#out + 1] = fields
  end
end
return out`);

/**
 * ARGV[4] nowSeconds. Jtis of revoked sessions whose exp is still ahead: walks only those (the
 * by-exp index) and reads one field of each.
 */
export const LIST_REVOKED_SESSIONS = lua(`${SESSION_PRELUDE}
local out = {}
for _, jti in ipairs(redis.call('ZRANGEBYSCORE', byExp, '(' .. ARGV[4], '+inf')) do
  if redis.call('HGET', sessionPrefix .. jti, 'revokedAtMs') then out[#out + 1] = jti end
end
return out`);

/** ARGV[4] jti, [5] nowMs, [6] nowSeconds. Returns 1 when this call revoked it. */
export const REVOKE_SESSION = lua(`${SESSION_PRELUDE}
local key = sessionPrefix .. ARGV[4]
if not isActive(redis.call('HMGET', key, 'exp', 'v', 'revokedAtMs'), tonumber(ARGV[6])) then return 0 end
redis.call('HSET', key, 'revokedAtMs', ARGV[5])
publish({type = 'revoked', jtis = {ARGV[4]}})
return 1`);

/**
 * ARGV[4] nowMs, [5] nowSeconds, [6] '1' when [7] is a jti to keep. Walks only sessions whose
 * exp is still ahead (the by-exp index), and sends one event naming all it revoked.
 */
export const REVOKE_OTHER_SESSIONS = lua(`${SESSION_PRELUDE}
local nowSeconds = tonumber(ARGV[5])
local revoked = {}
for _, jti in ipairs(redis.call('ZRANGEBYSCORE', byExp, '(' .. ARGV[5], '+inf')) do
  if not (ARGV[6] == '1' and jti == ARGV[7]) then
    local key = sessionPrefix .. jti
    if isActive(redis.call('HMGET', key, 'exp', 'v', 'revokedAtMs'), nowSeconds) then
      redis.call('HSET', key, 'revokedAtMs', ARGV[4])
      revoked[#revoked + 1] = jti
    end
  end
end
if #revoked > 0 then publish({type = 'revoked', jtis = revoked}) end
return revoked`);

/** INCR is atomic, so concurrent bumps get distinct versions. */
export const BUMP_VERSION = lua(`${SESSION_PRELUDE}
if redis.call('EXISTS', versionKey) == 0 then redis.call('SET', versionKey, 1) end
local version = redis.call('INCR', versionKey)
publish({type = 'version', version = version})
return version`);

/** ARGV[4..]: jti, ms pairs. Never creates a hash, never moves lastSeenAtMs backwards. */
export const TOUCH_SESSIONS = lua(`${SESSION_PRELUDE}
for i = 4, #ARGV - 1, 2 do
  local key = sessionPrefix .. ARGV[i]
  if redis.call('EXISTS', key) == 1 then
    local last = redis.call('HGET', key, 'lastSeenAtMs')
    if not last or tonumber(ARGV[i + 1]) > tonumber(last) then
      redis.call('HSET', key, 'lastSeenAtMs', ARGV[i + 1])
    end
  end
end
return 1`);

/** ARGV[4] beforeSeconds. Also drops index members whose hash the TTL removed. */
export const PURGE_SESSIONS = lua(`${SESSION_PRELUDE}
local gone = redis.call('ZRANGEBYSCORE', byExp, '-inf', '(' .. ARGV[4])
for _, jti in ipairs(gone) do
  redis.call('DEL', sessionPrefix .. jti)
  redis.call('ZREM', byExp, jti)
  redis.call('ZREM', byCreated, jti)
end
for _, jti in ipairs(redis.call('ZRANGE', byCreated, 0, -1)) do
  if redis.call('EXISTS', sessionPrefix .. jti) == 0 then
    redis.call('ZREM', byCreated, jti)
    redis.call('ZREM', byExp, jti)
  end
end
return #gone`);

// --- stored tokens --------------------------------------------------------------------
// KEYS: by-saved index, by-expiry index, owners (id -> userId), ... ARGV: token key prefix,
// user index prefix, ... The owners hash outlives a token hash removed by TTL, so its
// per-user index entry can still be found and removed.

/** Field names as Lua arguments to HMGET, in their order. */
const luaArguments = (names: readonly string[]) => names.map((name) => `'${name}'`).join(', ');
const TOKEN_FIELDS = luaArguments(STORED_TOKEN_FIELDS);
const LISTED_FIELDS = luaArguments(LISTED_TOKEN_FIELDS);

/**
 * Lua for the audit trail. Each entry is one member, `<id> <JSON of its other fields>`, of the
 * by-time sorted set and of its action's: no key of its own, so no TTL of its own. Token reads
 * (UNINDEXED_AUDIT_ACTION), the action a busy server records most by far, have a set of their
 * ids alone instead (`auditReads` in keys.ts), which a page of them reads and then finds each
 * id's member among the by-time set's at its score: half the memory and a cheaper write a read.
 * Equal scores list by member bytes, so ties order by id (the space sorts first).
 *
 * `auditAction(member)`: the entry's action (the first `"action":"` of its JSON is the field
 * itself, since a quote inside a string value is escaped).
 * `addAudit(byTime, actionPrefix, reads, at, id, action, member)`: adds an entry to every set
 * that holds it, and `removeAudit(byTime, actionPrefix, reads, member)` removes it from them.
 * `appendAudit(byTime, i, target)`: appends the entries in ARGV from index `i` on, as
 * APPEND_AUDIT takes them (for each: id, atMs, action, and the JSON object of its other fields;
 * an entry whose other fields are all the entry before's sends its id and three empty strings),
 * with ARGV[i - 3] the reads' set, [i - 2] the action set prefix and [i - 1] the trail's TTL in
 * ms; `target`, when given, is each entry's target. It then removes up to 100 entries older
 * than the batch's first by more than the TTL: a backstop for a sweep that never runs, as a
 * hash's TTL was.
 */
export const AUDIT_TRAIL = `
local UNINDEXED = '${UNINDEXED_AUDIT_ACTION}'
local function auditAction(member)
  return string.match(member, '"action":"([^"]*)"')
end
local function addAudit(byTime, actionPrefix, reads, at, id, action, member)
  redis.call('ZADD', byTime, at, member)
  if action == UNINDEXED then
    redis.call('ZADD', reads, at, id)
  else
    redis.call('ZADD', actionPrefix .. action, at, member)
  end
end
local function removeAudit(byTime, actionPrefix, reads, member)
  local action = auditAction(member)
  if action == UNINDEXED then
    redis.call('ZREM', reads, string.sub(member, 1, string.find(member, ' ', 1, true) - 1))
  elseif action then
    redis.call('ZREM', actionPrefix .. action, member)
  end
  redis.call('ZREM', byTime, member)
end
`;

export const AUDIT_APPEND = `${AUDIT_TRAIL}
local function appendAudit(byTime, i, target)
  local reads, actionPrefix, ttl = ARGV[i - 3], ARGV[i - 2], tonumber(ARGV[i - 1])
  local targetField = target and (',"target":' .. cjson.encode(target) .. '}')
  local cut = '(' .. string.format('%d', tonumber(ARGV[i + 1]) - ttl)
  local at, action, fields
  while i <= #ARGV do
    local id = ARGV[i]
    if ARGV[i + 3] ~= '' then
      at, action, fields = ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
      if targetField then fields = string.sub(fields, 1, -2) .. targetField end
    end
    addAudit(byTime, actionPrefix, reads, at, id, action, id .. ' ' .. fields)
    i = i + 4
  end
  for _, member in ipairs(redis.call('ZRANGEBYSCORE', byTime, '-inf', cut, 'LIMIT', 0, 100)) do
    removeAudit(byTime, actionPrefix, reads, member)
  end
end
local function found(fields)
  for _, value in ipairs(fields) do if value then return true end end
  return false
end
`;

/**
 * A recorded read by id: the token's fields (STORED_TOKEN_FIELDS order, every one nil when
 * there is none) and, when it is there, the audit entries, targeting ARGV[1], appended in the
 * same step. KEYS[1] the token's hash, [2] the audit trail's by-time index. ARGV[1] the id,
 * [2] the reads' audit set, [3] action set prefix, [4] the trail's TTL ms, [5..] the entries.
 */
export const READ_STORED_TOKEN = lua(`${AUDIT_APPEND}
local fields = redis.call('HMGET', KEYS[1], ${TOKEN_FIELDS})
if found(fields) then appendAudit(KEYS[2], 5, ARGV[1]) end
return fields`);

const STORED_TOKEN_PRELUDE = `
local bySaved, byExpiry, owners = KEYS[1], KEYS[2], KEYS[3]
local tokenPrefix, userPrefix = ARGV[1], ARGV[2]
-- The per-key-id sets, and the id -> key id hash that outlives a hash removed by TTL (as
-- owners does), sit beside the token hashes (see keys.ts, tokensSealedWithPrefix).
local base = string.sub(tokenPrefix, 1, -7)
local kidPrefix, kidOf = base .. 'tokens:kid:', base .. 'tokens:kid-of'
local function setKid(id, kid)
  local old = redis.call('HGET', kidOf, id)
  if old == kid then return end
  if old then redis.call('SREM', kidPrefix .. old, id) end
  redis.call('SADD', kidPrefix .. kid, id)
  redis.call('HSET', kidOf, id, kid)
end
local function removeToken(id)
  local user = redis.call('HGET', owners, id)
  local kid = redis.call('HGET', kidOf, id)
  if kid then redis.call('SREM', kidPrefix .. kid, id) end
  redis.call('HDEL', kidOf, id)
  redis.call('DEL', tokenPrefix .. id)
  redis.call('ZREM', bySaved, id)
  redis.call('ZREM', byExpiry, id)
  if user then redis.call('ZREM', userPrefix .. user, id) end
  redis.call('HDEL', owners, id)
end
`;

/** ARGV[3] id, [4] userId, [5] savedAtMs, [6] expiresAtMs, [7] ttl ms, [8..] hash fields. */
export const INSERT_STORED_TOKEN = lua(`${STORED_TOKEN_PRELUDE}
local id = ARGV[3]
local key = tokenPrefix .. id
if redis.call('EXISTS', key) == 1 then return redis.error_reply('ERR tessera: token exists') end
removeToken(id)
redis.call('HSET', key, unpack(ARGV, 8))
redis.call('PEXPIRE', key, ARGV[7])
setKid(id, redis.call('HGET', key, 'kid'))
redis.call('ZADD', bySaved, ARGV[5], id)
redis.call('ZADD', byExpiry, ARGV[6], id)
redis.call('ZADD', userPrefix .. ARGV[4], ARGV[5], id)
redis.call('HSET', owners, id, ARGV[4])
return 1`);

/**
 * ARGV[3] id, [4] savedAtMs, [5] expiresAtMs or '', [6] ttl ms or '', [7..] hash fields.
 * Returns the updated token's fields (STORED_TOKEN_FIELDS), or nil for an unknown id.
 */
export const UPDATE_STORED_TOKEN = lua(`${STORED_TOKEN_PRELUDE}
local id = ARGV[3]
local key = tokenPrefix .. id
if redis.call('EXISTS', key) == 0 then return false end
redis.call('HSET', key, unpack(ARGV, 7))
setKid(id, redis.call('HGET', key, 'kid'))
redis.call('ZADD', bySaved, ARGV[4], id)
redis.call('ZADD', userPrefix .. redis.call('HGET', key, 'userId'), ARGV[4], id)
if ARGV[5] ~= '' then
  redis.call('ZADD', byExpiry, ARGV[5], id)
  redis.call('PEXPIRE', key, ARGV[6])
end
return redis.call('HMGET', key, ${TOKEN_FIELDS})`);

/** ARGV[3] id. Returns 1 when the token existed. */
export const DELETE_STORED_TOKEN = lua(`${STORED_TOKEN_PRELUDE}
local existed = redis.call('EXISTS', tokenPrefix .. ARGV[3])
removeToken(ARGV[3])
return existed`);

/** ARGV[3] how many. Deletes that many tokens; the caller repeats until none is left. */
export const CLEAR_STORED_TOKENS = lua(`${STORED_TOKEN_PRELUDE}
local ids = redis.call('ZRANGE', bySaved, 0, tonumber(ARGV[3]) - 1)
for _, id in ipairs(ids) do removeToken(id) end
return #ids`);

/** ARGV[3] beforeMs, [4] how many. Deletes tokens with expiresAtMs < beforeMs, a batch per call. */
export const PURGE_STORED_TOKENS = lua(`${STORED_TOKEN_PRELUDE}
local ids = redis.call('ZRANGEBYSCORE', byExpiry, '-inf', '(' .. ARGV[3], 'LIMIT', 0, tonumber(ARGV[4]))
for _, id in ipairs(ids) do removeToken(id) end
return #ids`);

/**
 * One page of tokens: `{total, fields, fields, ...}`. KEYS[4] orders the listing (by-saved, or
 * one user's index, both scored by savedAtMs); KEYS[5] is scratch space, deleted before the
 * script ends. ARGV[3] offset, [4] limit, [5] 'any' | 'valid' | 'expired', [6] nowMs,
 * [7] '1' when KEYS[4] is a user's index, [8] '1' when the total is wanted, [9] 'listed' for
 * a listing's fields only (`{total, fields, ...}` in LISTED_TOKEN_FIELDS order: never the
 * sealed token), else 'whole' (every field, in STORED_TOKEN_FIELDS order).
 * A token whose hash the TTL removed comes back with every field nil (false in Lua).
 * A recorded read ('whole', limit 1) adds KEYS[6], the audit trail's by-time index, and ARGV[10]
 * the reads' audit set, [11] the action set prefix, [12] the trail's TTL ms, [13..] the
 * entries (APPEND_AUDIT's), appended, targeting the token, when the page holds one.
 *
 * Unfiltered: ZCARD and ZREVRANGE, no scan. With a validity filter there are two exact ways,
 * and the script takes the cheaper:
 * - gather: copy the matching ids out of the by-expiry index (or intersect a user's index
 *   with it) and re-score them by savedAtMs; cost ~ the number of matches.
 * - walk: read the order index newest first and keep the matching ids until the page is
 *   full; cost ~ (offset + limit) / (share of matches). The total then comes from ZCOUNT.
 *   It reads twice the page at first, then twice as far each time, so `current` (one
 *   token, most often the newest) reads two ids, not a fixed chunk.
 * Either way Redis orders the result (score, then member bytes), never Lua's locale-aware
 * string comparison.
 */
export const STORED_TOKEN_PAGE = lua(`${STORED_TOKEN_PRELUDE}${AUDIT_APPEND}
local order, scratch = KEYS[4], KEYS[5]
local offset, limit = tonumber(ARGV[3]), tonumber(ARGV[4])
local filter, nowText = ARGV[5], ARGV[6]
local now = tonumber(nowText)
local scoped, needTotal = ARGV[7] == '1', ARGV[8] == '1'
local total, ids = 0, {}
local function page(key)
  if limit < 1 then return {} end
  return redis.call('ZREVRANGE', key, offset, offset + limit - 1)
end

if filter == 'any' then
  total = redis.call('ZCARD', order)
  ids = page(order)
else
  local min, max = '(' .. nowText, '+inf'
  if filter == 'expired' then min, max = '-inf', nowText end
  local n = redis.call('ZCARD', order)
  local matches = n
  if not scoped then matches = redis.call('ZCOUNT', byExpiry, min, max) end
  local gather
  if scoped then gather = needTotal else gather = matches * matches <= (offset + limit) * n end
  if matches == 0 then
    total = 0
  elseif gather then
    if scoped then
      redis.call('ZINTERSTORE', scratch, 2, order, byExpiry, 'WEIGHTS', 0, 1)
      if filter == 'valid' then
        redis.call('ZREMRANGEBYSCORE', scratch, '-inf', nowText)
      else
        redis.call('ZREMRANGEBYSCORE', scratch, '(' .. nowText, '+inf')
      end
    else
      redis.call('ZRANGESTORE', scratch, byExpiry, min, max, 'BYSCORE')
    end
    redis.call('ZINTERSTORE', scratch, 2, scratch, order, 'WEIGHTS', 0, 1)
    total = redis.call('ZCARD', scratch)
    ids = page(scratch)
    redis.call('DEL', scratch)
  else
    total = matches
    local matched, position, chunk = 0, 0, 2 * (offset + limit)
    local wantValid = filter == 'valid'
    while #ids < limit do
      local batch = redis.call('ZREVRANGE', order, position, position + chunk - 1)
      for _, id in ipairs(batch) do
        local expires = tonumber(redis.call('ZSCORE', byExpiry, id))
        if expires and (expires > now) == wantValid then
          matched = matched + 1
          if matched > offset then ids[#ids + 1] = id end
        end
        -- The total is ZCOUNT's: once the page is full, the rest of the batch is not read.
        if #ids == limit then break end
      end
      if #batch < chunk then break end
      position = position + chunk
      -- Fewer matches than hoped: read twice as far each time (2, 4, 8, ... for current).
      chunk = chunk * 2
    end
  end
end

local out = {total}
if ARGV[9] == 'listed' then
  for _, id in ipairs(ids) do
    out[#out + 1] = redis.call('HMGET', tokenPrefix .. id, ${LISTED_FIELDS})
  end
else
  for _, id in ipairs(ids) do out[#out + 1] = redis.call('HMGET', tokenPrefix .. id, ${TOKEN_FIELDS}) end
  if ARGV[10] and out[2] and found(out[2]) then appendAudit(KEYS[6], 13, ids[1]) end
end
return out`);

/**
 * ARGV[3] id, [4] the key id it must still be sealed under, [5] the new key id, [6] the new
 * sealed bytes. Returns 1 when it resealed.
 */
export const RESEAL_STORED_TOKEN = lua(`${STORED_TOKEN_PRELUDE}
local id = ARGV[3]
local key = tokenPrefix .. id
if redis.call('HGET', key, 'kid') ~= ARGV[4] then return 0 end
redis.call('HSET', key, 'kid', ARGV[5], 'sealed', ARGV[6])
setKid(id, ARGV[5])
return 1`);

/**
 * ARGV[3] key id, [4] how many. Tokens sealed under it: `{count, fields, fields, ...}`, each in
 * STORED_TOKEN_FIELDS order. Drops set members whose hash the TTL removed; a hash that exists
 * but lacks fields is returned as it is, for the reader to report.
 */
export const STORED_TOKENS_SEALED_WITH = lua(`${STORED_TOKEN_PRELUDE}
local set = kidPrefix .. ARGV[3]
local out = {0}
for _, id in ipairs(redis.call('SRANDMEMBER', set, tonumber(ARGV[4]))) do
  local key = tokenPrefix .. id
  if redis.call('EXISTS', key) == 0 then
    removeToken(id)
  else
    out[#out + 1] = redis.call('HMGET', key, ${TOKEN_FIELDS})
  end
end
out[1] = redis.call('SCARD', set)
return out`);

/**
 * ARGV[3] rank to start at, [4] how many. Adds that many tokens of the by-saved index to their
 * key id's set (built once for data written before the sets existed); returns how many it read.
 */
export const INDEX_STORED_TOKENS_BY_KID = lua(`${STORED_TOKEN_PRELUDE}
local start = tonumber(ARGV[3])
local ids = redis.call('ZRANGE', bySaved, start, start + tonumber(ARGV[4]) - 1)
for _, id in ipairs(ids) do
  local kid = redis.call('HGET', tokenPrefix .. id, 'kid')
  if kid then setKid(id, kid) end
end
return #ids`);
