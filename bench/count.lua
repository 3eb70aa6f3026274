-- Counts, per wrk thread, requests sent and 200 responses received, so the
-- benchmark can compare them with the Redis counter after the run.
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  sent, ok = 0, 0
end

function request()
  sent = sent + 1
  return wrk.format()
end

function response(status, headers, body)
  if status == 200 then ok = ok + 1 end
end

function done(summary, latency, requests)
  local total_sent, total_ok = 0, 0
  for _, thread in ipairs(threads) do
    total_sent = total_sent + thread:get("sent")
    total_ok = total_ok + thread:get("ok")
  end
  io.write(string.format("COUNTS sent=%d ok=%d\n", total_sent, total_ok))
end
