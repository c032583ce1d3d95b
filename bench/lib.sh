# Helpers shared by the bench/ scripts; source it.

# wait_ready PORT PATH: waits up to 60 s for http://127.0.0.1:PORT/PATH to answer 2xx.
wait_ready() {
  for _ in $(seq 1 600); do
    curl -sf "http://127.0.0.1:$1$2" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "port $1 did not become ready" >&2
  return 1
}
