-- SPDX-License-Identifier: Apache-2.0
-- wrk script for the apwsgi benchmark harness (bench/apwbench/load.py).
--
-- Environment: BENCH_METHOD (default GET), BENCH_BODY_BYTES (a request
-- body of that many bytes, sent with every request; default none) and
-- BENCH_HEADERS ("Name: value" lines sent with every request).
-- At the end it prints one line, "BENCH-JSON {...}", with the totals and
-- the latency percentiles in microseconds, so that the harness need not
-- parse wrk's human-readable report.

local method = os.getenv("BENCH_METHOD") or "GET"
local body_bytes = tonumber(os.getenv("BENCH_BODY_BYTES") or "0") or 0

wrk.method = method
for name, value in string.gmatch(os.getenv("BENCH_HEADERS") or "",
                                 "([^:\n]+): ([^\n]*)\n") do
    wrk.headers[name] = value
end
if body_bytes > 0 then
    wrk.body = string.rep("x", body_bytes)
    wrk.headers["Content-Type"] = "application/octet-stream"
end

function done(summary, latency, requests)
    local e = summary.errors
    io.write(string.format(
        'BENCH-JSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
        '"connect_errors":%d,"read_errors":%d,"write_errors":%d,' ..
        '"status_errors":%d,"timeouts":%d,"latency_mean_us":%.1f,' ..
        '"latency_max_us":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d}\n',
        summary.requests, summary.duration, summary.bytes,
        e.connect, e.read, e.write, e.status, e.timeout,
        latency.mean, latency.max, latency:percentile(50),
        latency:percentile(90), latency:percentile(99)))
end
