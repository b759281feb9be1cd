package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"

	"github.com/kavach-go/kavach/backend"
	"github.com/kavach-go/kavach/backend/noop"
	"github.com/kavach-go/kavach/server"
)

// Example serves the API with the noop backend, creates a sandbox, runs a
// command in it and destroys it.
func Example() {
	work, _ := os.MkdirTemp("", "kavach-example")
	defer os.RemoveAll(work)
	// The test server's clients are told apart by nothing: they are let in
	// as one anonymous client (a real server uses tokens or its Unix
	// socket).
	srv, err := server.New(server.Options{Backends: []backend.Backend{noop.New()}, DefaultBackend: "noop", WorkRoot: work, AllowAnonymous: true})
	if err != nil {
		panic(err)
	}
	defer srv.Shutdown(context.Background())
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()

	resp, _ := http.Post(hs.URL+"/v1/sandboxes", "application/json", strings.NewReader(`{"policy":"strict"}`))
	var sb struct {
		ID    string `json:"id"`
		State string `json:"state"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&sb)
	resp.Body.Close()
	fmt.Println(resp.StatusCode, sb.State)

	resp, _ = http.Post(hs.URL+"/v1/sandboxes/"+sb.ID+"/exec", "application/json", strings.NewReader(`{"args":["true"]}`))
	var res struct {
		ExitCode int    `json:"exit_code"`
		Verdict  string `json:"verdict"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&res)
	resp.Body.Close()
	fmt.Println(resp.StatusCode, res.ExitCode, res.Verdict)

	req, _ := http.NewRequest("DELETE", hs.URL+"/v1/sandboxes/"+sb.ID, nil)
	resp, _ = http.DefaultClient.Do(req)
	resp.Body.Close()
	fmt.Println(resp.StatusCode)
	// Output:
	// 201 Running
	// 200 0 Pass
	// 204
}

// ExampleListen shows that a TCP listener on a public address needs a
// token.
func ExampleListen() {
	_, err := server.Listen("tcp://0.0.0.0:8080", false)
	fmt.Println(err)
	// Output:
	// listen tcp://0.0.0.0:8080: refusing to listen on a non-loopback address without a token (use --token-file)
}
