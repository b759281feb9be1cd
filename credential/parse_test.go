package credential

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseSource(t *testing.T) {
	tests := []struct {
		in      string
		want    Source
		wantErr bool
	}{
		{"env:TOKEN", Source{SourceEnv, "TOKEN"}, false},
		{"env:_a1", Source{SourceEnv, "_a1"}, false},
		{"file:/run/keys/k", Source{SourceFile, "/run/keys/k"}, false},
		{"file:rel/path:with:colons", Source{SourceFile, "rel/path:with:colons"}, false},
		{"sk-live-abcdef", Source{}, true},
		{"literal:abc", Source{}, true},
		{"env:", Source{}, true},
		{"env:1ABC", Source{}, true},
		{"env:A-B", Source{}, true},
		// What the shell makes of env:$TOKEN: the value itself.
		{"env:sk-live-abcdef", Source{}, true},
		{"file:", Source{}, true},
		{"file:a\x00b", Source{}, true},
		{"", Source{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseSource(tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("ParseSource(%q) = %v, %v", tt.in, got, err)
			}
			if err != nil && !errors.Is(err, ErrBadSource) {
				t.Fatalf("error %v does not wrap ErrBadSource", err)
			}
			if err != nil && strings.Contains(err.Error(), "sk-live") {
				t.Fatalf("error echoes a possible literal: %v", err)
			}
			if err == nil && got.String() != tt.in {
				t.Fatalf("String() = %q", got.String())
			}
		})
	}
}

func TestSourceResolve(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "tok")
	if err := os.WriteFile(file, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, make([]byte, MaxSecretSize+1), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KAVACH_TEST_TOKEN", "from-env")
	t.Setenv("KAVACH_TEST_EMPTY", "")
	tests := []struct {
		src     Source
		want    string
		wantErr error
	}{
		{Source{SourceEnv, "KAVACH_TEST_TOKEN"}, "from-env", nil},
		{Source{SourceFile, file}, "from-file\n", nil},
		{Source{SourceEnv, "KAVACH_TEST_UNSET_XYZ"}, "", ErrSourceNotFound},
		{Source{SourceEnv, "KAVACH_TEST_EMPTY"}, "", ErrEmptySecret},
		{Source{SourceFile, filepath.Join(dir, "missing")}, "", ErrSourceNotFound},
		{Source{SourceFile, empty}, "", ErrEmptySecret},
		{Source{SourceFile, big}, "", ErrSecretTooLarge},
		{Source{}, "", ErrBadSource},
	}
	for _, tt := range tests {
		t.Run(tt.src.String(), func(t *testing.T) {
			s, err := tt.src.Resolve(context.Background())
			if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Fatalf("Resolve = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			b, _ := s.Bytes()
			if string(b) != tt.want {
				t.Fatalf("value %q, want %q", b, tt.want)
			}
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := (Source{SourceEnv, "KAVACH_TEST_TOKEN"}).Resolve(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled ctx: %v", err)
	}
}

func TestParseInjections(t *testing.T) {
	tests := []struct {
		parse   func(string) (Injection, error)
		in      string
		want    Injection
		wantErr bool
	}{
		{ParseEnvInjection, "API_KEY=env:HOST_KEY", Injection{TargetEnv, "API_KEY", Source{SourceEnv, "HOST_KEY"}}, false},
		{ParseEnvInjection, "API_KEY=file:/k=v", Injection{TargetEnv, "API_KEY", Source{SourceFile, "/k=v"}}, false},
		{ParseEnvInjection, "API_KEY=literal", Injection{}, true},
		{ParseEnvInjection, "API KEY=env:X", Injection{}, true},
		{ParseEnvInjection, "env:X", Injection{}, true},
		{ParseFileInjection, "/run/secrets/token=env:T", Injection{TargetFile, "/run/secrets/token", Source{SourceEnv, "T"}}, false},
		{ParseFileInjection, "/home/u/.aws/credentials=file:/x", Injection{TargetFile, "/home/u/.aws/credentials", Source{SourceFile, "/x"}}, false},
		{ParseFileInjection, "relative/token=env:T", Injection{}, true},
		{ParseFileInjection, "/run/secrets/../etc/x=env:T", Injection{}, true},
		{ParseFileInjection, "/etc/token=env:T", Injection{}, true},
		{ParseFileInjection, "/token=env:T", Injection{}, true},
		{ParseFileInjection, "/proc/self/x=env:T", Injection{}, true},
		{ParseFileInjection, "/tmp/token=env:T", Injection{}, true},
		{ParseStdinInjection, "env:T", Injection{TargetStdin, "", Source{SourceEnv, "T"}}, false},
		{ParseStdinInjection, "T", Injection{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := tt.parse(tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("parse(%q) = %+v, %v", tt.in, got, err)
			}
			if err != nil && !errors.Is(err, ErrBadInjection) && !errors.Is(err, ErrBadSource) {
				t.Fatalf("error %v wraps no sentinel", err)
			}
		})
	}
}

func TestResolvePlan(t *testing.T) {
	t.Setenv("KAVACH_T1", "one")
	t.Setenv("KAVACH_T2", "two")
	ins := []Injection{
		{TargetEnv, "A", Source{SourceEnv, "KAVACH_T1"}},
		{TargetFile, "/run/secrets/b", Source{SourceEnv, "KAVACH_T2"}},
		{TargetFile, "/run/secrets/c", Source{SourceEnv, "KAVACH_T1"}},
		{TargetFile, "/opt/app/keys/d", Source{SourceEnv, "KAVACH_T1"}},
		{TargetStdin, "", Source{SourceEnv, "KAVACH_T1"}},
		{TargetStdin, "", Source{SourceEnv, "KAVACH_T2"}},
	}
	p, err := Resolve(context.Background(), ins)
	if err != nil {
		t.Fatal(err)
	}
	env := p.AppendEnv([]string{"A=old", "PATH=/bin"})
	if fmt.Sprint(env) != "[PATH=/bin A=one]" {
		t.Errorf("env = %v", env)
	}
	if got := fmt.Sprint(p.TmpfsDirs()); got != "[/opt/app/keys /run/secrets]" {
		t.Errorf("TmpfsDirs = %s", got)
	}
	if len(p.Files) != 3 || p.Files[0].Mode != 0o400 || p.Files[0].Path != "/run/secrets/b" {
		t.Errorf("files = %+v", p.Files)
	}
	if b, _ := p.Stdin.Bytes(); !p.HasStdin || string(b) != "one\ntwo" {
		t.Errorf("stdin = %q", b)
	}
	p.Release()
	if !p.Env[0].Value.Released() || !p.Files[2].Value.Released() || !p.Stdin.Released() {
		t.Error("Release left a secret")
	}

	bad := [][]Injection{
		{{TargetEnv, "A", Source{SourceEnv, "KAVACH_T1"}}, {TargetEnv, "A", Source{SourceEnv, "KAVACH_T2"}}},
		{{TargetEnv, "A", Source{SourceEnv, "KAVACH_UNSET_ZZZ"}}},
		{{TargetFile, "/etc/x", Source{SourceEnv, "KAVACH_T1"}}},
		{{Target(9), "x", Source{SourceEnv, "KAVACH_T1"}}},
	}
	for i, ins := range bad {
		if p, err := Resolve(context.Background(), ins); err == nil || p != nil {
			t.Errorf("bad[%d]: Resolve = %v, %v", i, p, err)
		}
	}
}

func TestParseHeaderRule(t *testing.T) {
	tests := []struct {
		in      string
		want    HeaderRule
		wantErr bool
	}{
		{"api.example.com:Authorization=Bearer env:TOKEN", HeaderRule{"api.example.com", 0, "Authorization", "Bearer", Source{SourceEnv, "TOKEN"}}, false},
		{"API.Example.COM.:x-api-key=file:/k", HeaderRule{"api.example.com", 0, "X-Api-Key", "", Source{SourceFile, "/k"}}, false},
		{"127.0.0.1:Authorization=Bearer env:TOKEN", HeaderRule{"127.0.0.1", 0, "Authorization", "Bearer", Source{SourceEnv, "TOKEN"}}, false},
		{"127.0.0.1:8080:Authorization=Basic env:T", HeaderRule{"127.0.0.1", 8080, "Authorization", "Basic", Source{SourceEnv, "T"}}, false},
		{"[::1]:8443:X-Key=env:T", HeaderRule{"::1", 8443, "X-Key", "", Source{SourceEnv, "T"}}, false},
		{"[::ffff:127.0.0.1]:X-Key=env:T", HeaderRule{"127.0.0.1", 0, "X-Key", "", Source{SourceEnv, "T"}}, false},
		{"bücher.example:X-Key=env:T", HeaderRule{"xn--bcher-kva.example", 0, "X-Key", "", Source{SourceEnv, "T"}}, false},
		{"api.example.com:Authorization=Bearer sk-literal", HeaderRule{}, true},
		{"api.example.com:Authorization=Bearer  env:T", HeaderRule{}, true},
		{"api.example.com:Authorization=Bearer x env:T", HeaderRule{}, true},
		{"api.example.com:Host=env:T", HeaderRule{}, true},
		{"api.example.com:Proxy-Authorization=env:T", HeaderRule{}, true},
		{"api.example.com:content-length=env:T", HeaderRule{}, true},
		{"api.example.com:Bad Name=env:T", HeaderRule{}, true},
		{"api.example.com=env:T", HeaderRule{}, true},
		{":Authorization=env:T", HeaderRule{}, true},
		{"::1:X=env:T", HeaderRule{}, true},
		{"api.example.com:99999:X=env:T", HeaderRule{}, true},
		{"bad_host.example:X=env:T", HeaderRule{}, true},
		{"127.1:X=env:T", HeaderRule{}, true},
		{"api.example.com:Authorization", HeaderRule{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseHeaderRule(tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("ParseHeaderRule(%q) = %+v, %v", tt.in, got, err)
			}
			if err != nil && !errors.Is(err, ErrBadHeaderRule) && !errors.Is(err, ErrBadSource) {
				t.Fatalf("error %v wraps no sentinel", err)
			}
			if err == nil {
				again, err := ParseHeaderRule(got.String())
				if err != nil || again != got {
					t.Fatalf("round trip %q: %+v, %v", got.String(), again, err)
				}
			}
		})
	}
}

func TestHeaderRuleResolve(t *testing.T) {
	dir := t.TempDir()
	write := func(name, v string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(v), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name, content, scheme, want string
		wantErr                     bool
	}{
		{"plain", "tok123\n", "Bearer", "Bearer tok123", false},
		{"crlf-end", "tok123\r\n", "", "tok123", false},
		{"crlf-inside", "tok\r\nX-Evil: 1", "Bearer", "", true},
		{"lf-inside", "tok\nabc", "", "", true},
		{"nul", "tok\x00", "", "", true},
		{"only-newline", "\n", "Bearer", "", true},
		{"leading-space", " tok", "", "", true},
		{"utf8", "tök", "", "tök", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := HeaderRule{Host: "h.example", Name: "Authorization", Scheme: tt.scheme, Source: Source{SourceFile, write(tt.name, tt.content)}}
			h, err := r.Resolve(context.Background())
			if (err != nil) != tt.wantErr {
				t.Fatalf("Resolve: %v", err)
			}
			if err != nil {
				if strings.Contains(err.Error(), "tok") {
					t.Fatalf("error leaks the value: %v", err)
				}
				return
			}
			b, _ := h.Value.Bytes()
			if string(b) != tt.want || h.Host != "h.example" || h.Name != "Authorization" {
				t.Fatalf("header %+v value %q", h, b)
			}
		})
	}
}

func FuzzParseSource(f *testing.F) {
	for _, s := range []string{"env:X", "file:/a", "abc", "env:", ":", "file:\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		src, err := ParseSource(s)
		if err != nil {
			if !errors.Is(err, ErrBadSource) {
				t.Fatalf("unwrapped error %v", err)
			}
			return
		}
		if src.String() != s {
			t.Fatalf("round trip %q -> %q", s, src.String())
		}
	})
}

func FuzzParseInjection(f *testing.F) {
	for _, s := range []string{"A=env:B", "/run/s/x=file:/y", "env:X", "=", "/a/b/c=env:Z", "A=B=C"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, parse := range []func(string) (Injection, error){ParseEnvInjection, ParseFileInjection, ParseStdinInjection} {
			in, err := parse(s)
			if err != nil {
				if !errors.Is(err, ErrBadInjection) && !errors.Is(err, ErrBadSource) {
					t.Fatalf("unwrapped error %v", err)
				}
				continue
			}
			if in.Target == TargetFile && ValidSecretPath(in.Name) != nil {
				t.Fatalf("accepted bad path %q", in.Name)
			}
			if in.Target == TargetEnv && !validEnvName(in.Name) {
				t.Fatalf("accepted bad name %q", in.Name)
			}
		}
	})
}

func FuzzParseHeaderRule(f *testing.F) {
	for _, s := range []string{
		"api.example.com:Authorization=Bearer env:TOKEN", "[::1]:80:X=file:/a", "a:b=c", "x.y:1:Z=env:A",
		"bücher.de:K=env:A", "h:Host=env:A", "[::1]X=env:A",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseHeaderRule(s)
		if err != nil {
			if !errors.Is(err, ErrBadHeaderRule) && !errors.Is(err, ErrBadSource) {
				t.Fatalf("unwrapped error %v", err)
			}
			return
		}
		if strings.ContainsAny(r.Host, "\r\n /@[]") || strings.ContainsAny(r.Name, "\r\n :") || strings.ContainsAny(r.Scheme, "\r\n ") {
			t.Fatalf("accepted unsafe rule %+v", r)
		}
		again, err := ParseHeaderRule(r.String())
		if err != nil || again != r {
			t.Fatalf("round trip %q -> %q: %+v, %v", s, r.String(), again, err)
		}
	})
}

func ExampleParseHeaderRule() {
	r, err := ParseHeaderRule("API.example.com:authorization=Bearer env:OPENAI_KEY")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(r.Host, r.Name, r.Scheme, r.Source)
	_, err = ParseHeaderRule("api.example.com:Authorization=Bearer sk-123")
	fmt.Println(errors.Is(err, ErrBadSource))
	// Output:
	// api.example.com Authorization Bearer env:OPENAI_KEY
	// true
}

func ExampleResolve() {
	os.Setenv("EXAMPLE_HOST_TOKEN", "t0ken")
	env, _ := ParseEnvInjection("TOKEN=env:EXAMPLE_HOST_TOKEN")
	file, _ := ParseFileInjection("/run/secrets/token=env:EXAMPLE_HOST_TOKEN")
	plan, err := Resolve(context.Background(), []Injection{env, file})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer plan.Release()
	fmt.Println(plan.TmpfsDirs(), plan.Files[0].Path, plan.Files[0].Mode, plan.Env[0])
	// Output:
	// [/run/secrets] /run/secrets/token -r-------- {TOKEN [REDACTED]}
}
