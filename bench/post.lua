-- wrk script of bench/run.sh's post row: every request is a POST with a
-- 1 KiB body (wrk adds Content-Length), sent on keep-alive connections.
-- The body is built once; wrk sends the same pre-formatted request each time.
wrk.method = "POST"
wrk.body = string.rep("x", 1024)
wrk.headers["Content-Type"] = "application/octet-stream"
