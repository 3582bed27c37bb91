package hotredis

import "github.com/redis/go-redis/v9"

// Positions travel as decimal strings and are compared as strings: Lua's
// numbers are doubles, which would round epochs above 2^53.

// appendScript is Append: the position check and every write of a change
// in one atomic step.
//
// KEYS: meta, stream, snap.
// ARGV: prev epoch, prev version, epoch, version, kind (l a new lifetime,
// s a Set, p a patch, d a deletion), follows ("1" when the change is at
// prev's epoch and next version), stream id, frame, changes kept, wake-up
// channel, milliseconds a deleted instance's stream stays, the append's
// nonce, the head of the wake-up notice (see notice), and the largest frame
// the notice carries after its head. The nonce is random, the same when
// go-redis sends the script again after a connection failed. The change's
// stream entry keeps it, so that a retry of an append that did reach
// Redis finds it done, even after other changes followed it, instead of
// refusing it as a conflict (which would make the writer apply its change
// twice).
//
// It returns {1} when the change is in the log, {0, epoch, version} when
// the log ends elsewhere (a conflict), and {2} when the change does not
// follow prev.
var appendScript = redis.NewScript(`
local function wakeup()
	if #ARGV[8] <= tonumber(ARGV[14]) then
		return ARGV[13] .. '\n' .. ARGV[8]
	end
	return ARGV[13]
end
local cur = redis.call('HMGET', KEYS[1], 'e', 'v')
local e, v = cur[1] or '0', cur[2] or '0'
local kind = ARGV[5]
if e ~= ARGV[1] or v ~= ARGV[2] then
	-- This very append, sent again, may be in the log already, perhaps
	-- with other changes after it: its entry carries its nonce.
	if e == ARGV[3] and kind ~= 'd' then
		local got = redis.call('XRANGE', KEYS[2], ARGV[7], ARGV[7])
		if got[1] then
			local f = got[1][2]
			for i = 1, #f - 1, 2 do
				if f[i] == 'n' and f[i + 1] == ARGV[12] then
					return {1}
				end
			end
		end
	end
	return {0, e, v}
end
if kind == 'd' then
	if e == '0' then
		return {1}
	end
	-- The del entry stays readable a while so that watchers behind the
	-- end still see the deletion; the next lifetime restarts the stream.
	redis.call('XADD', KEYS[2], ARGV[7], 'e', ARGV[3], 'v', ARGV[4], 'f', ARGV[8])
	redis.call('PEXPIRE', KEYS[2], ARGV[11])
	redis.call('DEL', KEYS[1], KEYS[3])
	redis.call('PUBLISH', ARGV[10], wakeup())
	return {1}
end
if kind == 'l' then
	-- Versions start again in a new lifetime, and so do stream ids.
	redis.call('DEL', KEYS[2])
elseif ARGV[6] ~= '1' then
	return {2}
end
-- Exact MAXLEN: '~' frees only whole stream nodes (100 entries by
-- default), so a short log would not be trimmed at all. Since finds the
-- trimmed part by the first entry's version either way.
redis.call('XADD', KEYS[2], 'MAXLEN', ARGV[9], ARGV[7], 'e', ARGV[3], 'v', ARGV[4], 'f', ARGV[8], 'n', ARGV[12])
redis.call('HSET', KEYS[1], 'e', ARGV[3], 'v', ARGV[4])
if kind ~= 'p' then
	redis.call('HSET', KEYS[3], 'e', ARGV[3], 'v', ARGV[4], 'f', ARGV[8])
end
redis.call('PUBLISH', ARGV[10], wakeup())
return {1}
`)

// loadScript is Load: the snapshot and the entries after it, read at one
// instant. It returns nil for an instance that does not exist, else
// {epoch, version, frame, entries}.
//
// KEYS: meta, stream, snap.
var loadScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then
	return false
end
local s = redis.call('HMGET', KEYS[3], 'e', 'v', 'f')
if not s[1] then
	return redis.error_reply('hotstate: position without a snapshot')
end
return {s[1], s[2], s[3], redis.call('XRANGE', KEYS[2], '(' .. s[2] .. '-1', '+')}
`)

// checkpointScript is Checkpoint: it keeps the snapshot only when it is of
// the current lifetime, not past the log's end, and newer than the one
// kept. It returns 1 when it kept it.
//
// KEYS: meta, snap. ARGV: epoch, version, frame.
var checkpointScript = redis.NewScript(`
local function less(a, b)
	if #a ~= #b then
		return #a < #b
	end
	return a < b
end
local m = redis.call('HMGET', KEYS[1], 'e', 'v')
if not m[1] or m[1] ~= ARGV[1] or less(m[2], ARGV[2]) then
	return 0
end
local s = redis.call('HMGET', KEYS[2], 'e', 'v')
if s[1] == ARGV[1] and s[2] and not less(s[2], ARGV[2]) then
	return 0
end
redis.call('HSET', KEYS[2], 'e', ARGV[1], 'v', ARGV[2], 'f', ARGV[3])
return 1
`)

// countScript adds to this node's count of an instance's subscribers and
// returns every node's count, as HGETALL does; a count that reaches zero
// leaves the hash, so an instance nobody watches leaves no key.
//
// KEYS: counts. ARGV: node id, delta.
var countScript = redis.NewScript(`
local n = redis.call('HINCRBY', KEYS[1], ARGV[1], ARGV[2])
if n <= 0 then
	redis.call('HDEL', KEYS[1], ARGV[1])
end
return redis.call('HGETALL', KEYS[1])
`)
