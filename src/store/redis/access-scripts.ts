import { AUDIT_APPEND, AUDIT_TRAIL, type LuaScript, lua } from './scripts.js';

/*
 * Lua scripts for API keys, the audit trail and throttles, one per change that touches more
 * than one key or must publish with the change. Every key carries the store's hash tag (see
 * keys.ts), so these are legal on Redis Cluster too.
 */

// KEYS: api-key prefix is ARGV[1]; KEYS[1] by-hash, KEYS[2] by-created, KEYS[3] channel is ARGV[2].

/** ARGV[1] key prefix, [2] id, [3] keyHash, [4] createdAtMs, [5..] hash fields. */
export const CREATE_API_KEY: LuaScript = lua(`
local key = ARGV[1] .. ARGV[2]
if redis.call('EXISTS', key) == 1 then return redis.error_reply('ERR tessera: api key exists') end
if redis.call('HSETNX', KEYS[1], ARGV[3], ARGV[2]) == 0 then
  return redis.error_reply('ERR tessera: api key hash exists')
end
redis.call('HSET', key, unpack(ARGV, 5))
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[2])
return 1`);

/** KEYS[1] by-created. ARGV[1] key prefix, [2] id, [3] nowMs, [4] channel, [5] event id. */
export const REVOKE_API_KEY: LuaScript = lua(`
local key = ARGV[1] .. ARGV[2]
if redis.call('EXISTS', key) == 0 or redis.call('HEXISTS', key, 'revokedAtMs') == 1 then return 0 end
redis.call('HSET', key, 'revokedAtMs', ARGV[3])
redis.call('ZREM', KEYS[1], ARGV[2])
redis.call('PUBLISH', ARGV[4], cjson.encode({id = ARGV[5], e = {type = 'api_key_revoked', id = ARGV[2]}}))
return 1`);

/** KEYS[1] by-created. ARGV[1] key prefix. Every key not revoked, newest first. */
export const LIST_API_KEYS: LuaScript = lua(`
local out = {}
for _, id in ipairs(redis.call('ZREVRANGE', KEYS[1], 0, -1)) do
  local fields = redis.call('HGETALL', ARGV[1] .. id)
  if #fields > 0 then out[#out + 1] = fields end
end
return out`);

/**
 * KEYS[1] by-created (only so a cluster routes the script to the store's slot). ARGV[1] key
 * prefix, [2..]: id, ms pairs. Never creates a hash, never moves backwards.
 */
export const TOUCH_API_KEYS: LuaScript = lua(`
for i = 2, #ARGV - 1, 2 do
  local key = ARGV[1] .. ARGV[i]
  if redis.call('EXISTS', key) == 1 then
    local last = redis.call('HGET', key, 'lastUsedAtMs')
    if not last or tonumber(ARGV[i + 1]) > tonumber(last) then redis.call('HSET', key, 'lastUsedAtMs', ARGV[i + 1]) end
  end
end
return 1`);

/**
 * A batch of entries in one call. KEYS[1] by-time. ARGV[1] the reads' set, [2] the action set
 * prefix, [3] the trail's TTL ms, then for each entry: id, atMs, action, and the JSON object
 * of its other fields (see AUDIT_TRAIL).
 */
export const APPEND_AUDIT: LuaScript = lua(`${AUDIT_APPEND}
appendAudit(KEYS[1], 4)
return 1`);

/**
 * KEYS[1] by-time. ARGV[1] the reads' set, [2] the action set prefix, [3] the action, or ''
 * for every entry, [4] offset, [5] limit. Returns the total and the page's members, newest
 * first (ties: id descending). A page of token reads is a page of their ids, each then found
 * among the by-time set's members at its score: O(log n) an entry at any offset.
 */
export const AUDIT_PAGE: LuaScript = lua(`${AUDIT_TRAIL}
local action, offset, limit = ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
if action ~= UNINDEXED then
  local index = action == '' and KEYS[1] or ARGV[2] .. action
  local page = {}
  if limit > 0 then page = redis.call('ZREVRANGE', index, offset, offset + limit - 1) end
  return {redis.call('ZCARD', index), page}
end
local page = {}
if limit > 0 then
  local ids = redis.call('ZREVRANGE', ARGV[1], offset, offset + limit - 1, 'WITHSCORES')
  for k = 1, #ids, 2 do
    local prefix = ids[k] .. ' '
    for _, member in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], ids[k + 1], ids[k + 1])) do
      if string.sub(member, 1, #prefix) == prefix then
        page[#page + 1] = member
        break
      end
    end
  end
end
return {redis.call('ZCARD', ARGV[1]), page}`);

/**
 * KEYS[1] by-time. ARGV[1] the reads' set, [2] action set prefix, [3] beforeMs, [4] batch
 * size. Deletes up to a batch of the oldest entries before the cut-off, from every set;
 * returns how many.
 */
export const PURGE_AUDIT: LuaScript = lua(`${AUDIT_TRAIL}
local members = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[3], 'LIMIT', 0, tonumber(ARGV[4]))
for _, member in ipairs(members) do removeAudit(KEYS[1], ARGV[2], ARGV[1], member) end
return #members`);

/**
 * Moves a batch of key layout 1's audit entries, oldest first, into the trail's sorted sets.
 * KEYS[1] layout 1's by-time index, [2] by-time. ARGV[1] layout 1's entry hash prefix, [2] its
 * action index prefix, [3] the reads' set, [4] the action set prefix, [5] batch size. An id
 * whose hash the TTL removed is dropped. Returns how many ids it took.
 */
export const MOVE_LEGACY_AUDIT: LuaScript = lua(`${AUDIT_TRAIL}
local ids = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[5]) - 1)
for _, id in ipairs(ids) do
  local flat = redis.call('HGETALL', ARGV[1] .. id)
  if #flat > 0 then
    local hash = {}
    for k = 1, #flat, 2 do hash[flat[k]] = flat[k + 1] end
    local member = id .. ' ' .. cjson.encode({
      atMs = tonumber(hash.atMs), action = hash.action, actor = hash.actor, ip = hash.ip,
      userAgent = hash.userAgent, target = hash.target, reason = hash.reason,
    })
    addAudit(KEYS[2], ARGV[4], ARGV[3], hash.atMs, id, hash.action, member)
    redis.call('ZREM', ARGV[2] .. hash.action, id)
    redis.call('DEL', ARGV[1] .. id)
  end
  redis.call('ZREM', KEYS[1], id)
end
return #ids`);

/**
 * KEYS[1] throttle hash, KEYS[2] by-expiry. ARGV[1] subject, [2] nowMs, [3] windowMs.
 * Returns failures, windowStartMs, lockedUntilMs, lockouts.
 */
export const ADD_FAILURE: LuaScript = lua(`
local now, window = tonumber(ARGV[2]), tonumber(ARGV[3])
local fields = redis.call('HMGET', KEYS[1], 'failures', 'windowStartMs', 'lockedUntilMs', 'lockouts')
local failures, start = tonumber(fields[1] or '0'), tonumber(fields[2] or ARGV[2])
local locked, lockouts = tonumber(fields[3] or '0'), tonumber(fields[4] or '0')
if fields[1] == false or start <= now - window then
  failures, start = 1, now
else
  failures = failures + 1
end
redis.call('HSET', KEYS[1], 'failures', failures, 'windowStartMs', start, 'lockedUntilMs', locked,
  'lockouts', lockouts, 'updatedAtMs', now)
redis.call('ZADD', KEYS[2], math.max(now, locked), ARGV[1])
return {failures, start, locked, lockouts}`);

/**
 * KEYS[1] throttle hash, KEYS[2] by-expiry. ARGV[1] subject, [2] untilMs, [3] nowMs,
 * [4] channel, [5] event id.
 */
export const LOCK_OUT: LuaScript = lua(`
local now, untilMs = tonumber(ARGV[3]), tonumber(ARGV[2])
local fields = redis.call('HMGET', KEYS[1], 'lockedUntilMs', 'lockouts')
local locked = math.max(tonumber(fields[1] or '0'), untilMs)
redis.call('HSET', KEYS[1], 'failures', 0, 'windowStartMs', now, 'lockedUntilMs', locked,
  'lockouts', tonumber(fields[2] or '0') + 1, 'updatedAtMs', now)
redis.call('ZADD', KEYS[2], math.max(now, locked), ARGV[1])
redis.call('PUBLISH', ARGV[4], cjson.encode({id = ARGV[5], e = {type = 'throttled', subject = ARGV[1], untilMs = untilMs}}))
return 1`);

/** KEYS[1] by-expiry. ARGV[1] throttle prefix, [2] beforeMs, [3] batch size. */
export const PURGE_THROTTLES: LuaScript = lua(`
local subjects = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[2], 'LIMIT', 0, tonumber(ARGV[3]))
for _, subject in ipairs(subjects) do
  redis.call('DEL', ARGV[1] .. subject)
  redis.call('ZREM', KEYS[1], subject)
end
return #subjects`);

/** KEYS[1] the admin key hash. ARGV[1] hash, [2] channel, [3] event id. */
export const ROTATE_ADMIN_KEY: LuaScript = lua(`
redis.call('SET', KEYS[1], ARGV[1])
redis.call('PUBLISH', ARGV[2], cjson.encode({id = ARGV[3], e = {type = 'admin_key_rotated'}}))
return 1`);
