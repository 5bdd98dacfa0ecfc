-- wrk script for `npm run bench`: method and body from the environment, and a JSON summary
-- (requests/s, requests, p50/p99 in ms, errors, non-2xx answers) on the last line of the output.
local method = os.getenv("BENCH_METHOD")
local body = os.getenv("BENCH_BODY")
if method and method ~= "" then wrk.method = method end
if body and body ~= "" then wrk.body = body end

done = function(summary, latency, requests)
  local seconds = summary.duration / 1000000
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  io.write(string.format(
    '{"rps":%.1f,"requests":%d,"p50":%.3f,"p99":%.3f,"errors":%d,"non2xx":%d}\n',
    summary.requests / seconds, summary.requests, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    errors, summary.errors.status))
end
