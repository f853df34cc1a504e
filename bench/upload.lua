-- wrk script for scripts/bench: multipart uploads of a small file, each to an
-- entity of its own, as a client of POST /v1/documents sends them.
local boundary = "docvault-bench-boundary"
local counter = 0
local thread_tag = tostring(math.random(1, 1000000000))

wrk.method = "POST"
wrk.headers["Content-Type"] = "multipart/form-data; boundary=" .. boundary

local function field(name, value)
  return "--" .. boundary .. "\r\nContent-Disposition: form-data; name=\"" .. name .. "\"\r\n\r\n" .. value .. "\r\n"
end

request = function()
  counter = counter + 1
  local id = thread_tag .. "-" .. counter
  local body = field("entity_id", "bench-" .. id) .. field("entity_type", "deal") ..
    "--" .. boundary .. "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"note-" .. id ..
    ".txt\"\r\nContent-Type: text/plain\r\n\r\n" .. string.rep("x", 1024) .. id .. "\r\n--" .. boundary .. "--\r\n"
  return wrk.format(nil, "/v1/documents", nil, body)
end
