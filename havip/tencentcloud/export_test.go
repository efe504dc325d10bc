package tencentcloud

import "net/http"

// SetTransport makes b's API client send its requests through rt, which
// tests use to see the requests the Binder begins, as the server cannot:
// one in flight when a claim returns may reach the server after.
func SetTransport(b *Binder, rt http.RoundTripper) { b.api.WithHttpTransport(rt) }
