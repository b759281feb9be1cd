package kavach

import (
	"io"
	"strings"
	"testing"

	"github.com/kavach-go/kavach/credential"
	"github.com/kavach-go/kavach/scan"
)

func TestSecretsInjectedAndRedacted(t *testing.T) {
	t.Setenv("KAVACH_TEST_TOKEN", "tok-"+"9f8e7d6c5b4a")
	t.Setenv("KAVACH_TEST_STDIN", "stdin-"+"secret-value")
	envIn, err := credential.ParseEnvInjection("API_TOKEN=env:KAVACH_TEST_TOKEN")
	if err != nil {
		t.Fatal(err)
	}
	stdinIn, err := credential.ParseStdinInjection("env:KAVACH_TEST_STDIN")
	if err != nil {
		t.Fatal(err)
	}
	sb, _ := newTestSandbox(t, func(c *Config) { c.Secrets = []credential.Injection{envIn, stdinIn} })
	moveTo(t, sb, Running)
	// The command can use the token (its length proves it), but printing
	// it, or the stdin secret, releases only a redaction.
	res, err := sb.Exec(t.Context(), Shell(`printf '%s' "$API_TOKEN" | wc -c; echo "$API_TOKEN"; cat`))
	if err != nil {
		t.Fatal(err)
	}
	out := string(res.Stdout)
	if !strings.HasPrefix(out, "16\n") {
		t.Errorf("token not injected: %q", out)
	}
	if strings.Contains(out, "9f8e7d6c5b4a") || strings.Contains(out, "secret-value") || strings.Count(out, "[REDACTED:credential]") != 2 {
		t.Errorf("secret left the sandbox: %q", out)
	}
	// Streaming output is redacted too.
	p, err := sb.Spawn(t.Context(), Shell(`echo "x $API_TOKEN y"`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(p.Stdout())
	if _, err := p.Wait(); err != nil {
		t.Fatal(err)
	}
	if string(b) != "x [REDACTED:credential] y\n" {
		t.Errorf("streamed %q", b)
	}
	// The values are gone from memory once the sandbox is destroyed.
	plan := sb.plan
	if err := sb.Destroy(t.Context()); err != nil {
		t.Fatal(err)
	}
	if !plan.Env[0].Value.Released() {
		t.Errorf("secret not released on destroy")
	}
}

func TestSecretsMissingSource(t *testing.T) {
	in, err := credential.ParseEnvInjection("X=env:KAVACH_TEST_UNSET_VAR")
	if err != nil {
		t.Fatal(err)
	}
	sb, _ := newTestSandbox(t, func(c *Config) { c.Secrets = []credential.Injection{in} })
	if err := sb.Start(t.Context()); err == nil || !strings.Contains(err.Error(), "KAVACH_TEST_UNSET_VAR") {
		t.Fatalf("start = %v", err)
	}
	if sb.State() != Created {
		t.Errorf("state %s", sb.State())
	}
}

// TestSecretsRedactedWithoutScan: with the output gate off, injected
// credentials are still taken out of the output, buffered or streamed.
func TestSecretsRedactedWithoutScan(t *testing.T) {
	t.Setenv("KAVACH_TEST_TOKEN", "tok-"+"9f8e7d6c5b4a")
	envIn, err := credential.ParseEnvInjection("API_TOKEN=env:KAVACH_TEST_TOKEN")
	if err != nil {
		t.Fatal(err)
	}
	sb, _ := newTestSandbox(t, func(c *Config) {
		c.Secrets = []credential.Injection{envIn}
		c.Scan = &scan.GatePolicy{}
	})
	moveTo(t, sb, Running)
	res, err := sb.Exec(t.Context(), Shell(`echo "x $API_TOKEN y"`))
	if err != nil || string(res.Stdout) != "x [REDACTED:credential] y\n" {
		t.Errorf("exec: %q, %v", res.Stdout, err)
	}
	p, err := sb.Spawn(t.Context(), Shell(`printf 'x %s' "$API_TOKEN"; sleep 0.1; echo " y"`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(p.Stdout())
	if _, err := p.Wait(); err != nil {
		t.Fatal(err)
	}
	if string(b) != "x [REDACTED:credential] y\n" {
		t.Errorf("streamed %q", b)
	}
}
