-- wrk script for the ocikura registry benchmark.
-- WRK_METHOD  request method (GET, HEAD), default GET
-- WRK_ACCEPT  Accept values separated by "|"
-- WRK_ACCEPT_JOINED=1  send them comma-joined on one Accept line instead of one line each (docker sends one each)
-- Prints one line "WRKJSON {...}" with the summary when done.
-- No request()/response() functions are defined, so wrk keeps its static, pre-built request (no Lua per request).

wrk.method = os.getenv("WRK_METHOD") or "GET"

local accept = os.getenv("WRK_ACCEPT")
if accept and accept ~= "" then
  local parts = {}
  for a in string.gmatch(accept, "[^|]+") do parts[#parts + 1] = a end
  if os.getenv("WRK_ACCEPT_JOINED") == "1" then
    wrk.headers["Accept"] = table.concat(parts, ", ")
  else
    -- wrk's header table holds one value per name: the extra "Accept:" lines ride inside the first value.
    wrk.headers["Accept"] = table.concat(parts, "\r\nAccept: ")
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"duration_us":%d,"requests":%d,"bytes":%d,"err_connect":%d,"err_read":%d,"err_write":%d,' ..
    '"err_status":%d,"err_timeout":%d,"lat_mean_us":%.1f,"lat_p50_us":%d,"lat_p90_us":%d,"lat_p99_us":%d,"lat_max_us":%d}\n',
    summary.duration, summary.requests, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
