package proxy

// Env returns the environment variables that route a sandboxed command's
// HTTP(S) traffic through the proxy at proxyURL (for example
// "http://127.0.0.1:3128") and, when caBundlePath is not empty, make it
// trust the bundle at that path inside the sandbox (see CA.Bundle).
//
// NO_PROXY is set empty on purpose: nothing bypasses the proxy. Clients
// differ in how they read these variables (curl reads the lower-case
// http_proxy only; Go's ProxyFromEnvironment never proxies requests to
// loopback addresses whatever the variables say), so both spellings are
// set; a program that ignores them simply has no route out.
func Env(proxyURL, caBundlePath string) []string {
	env := []string{
		"HTTP_PROXY=" + proxyURL,
		"HTTPS_PROXY=" + proxyURL,
		"http_proxy=" + proxyURL,
		"https_proxy=" + proxyURL,
		"NO_PROXY=",
		"no_proxy=",
	}
	if caBundlePath != "" {
		env = append(env,
			"SSL_CERT_FILE="+caBundlePath,
			"REQUESTS_CA_BUNDLE="+caBundlePath,
			"NODE_EXTRA_CA_CERTS="+caBundlePath,
			"CURL_CA_BUNDLE="+caBundlePath,
			"GIT_SSL_CAINFO="+caBundlePath,
		)
	}
	return env
}
