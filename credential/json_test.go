package credential

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestInjectionJSON(t *testing.T) {
	tests := []struct {
		in   string
		want Injection
		out  string // re-encoded; "" = error expected
	}{
		{`{"source":"env:HOST_KEY","inject_via":{"EnvVar":{"var_name":"API_KEY"}}}`, Injection{TargetEnv, "API_KEY", Source{SourceEnv, "HOST_KEY"}},
			`{"source":"env:HOST_KEY","inject_via":{"EnvVar":{"var_name":"API_KEY"}}}`},
		{`{"name":"OPENAI_KEY","inject_via":{"File":{"path":"/run/secrets/k","mode":384}}}`, Injection{TargetFile, "/run/secrets/k", Source{SourceEnv, "OPENAI_KEY"}},
			`{"source":"env:OPENAI_KEY","inject_via":{"File":{"path":"/run/secrets/k","mode":256}}}`},
		{`{"source":"file:/k","inject_via":"Stdin"}`, Injection{TargetStdin, "", Source{SourceFile, "/k"}},
			`{"source":"file:/k","inject_via":"Stdin"}`},
		{`{"source":"sk-live-1","inject_via":"Stdin"}`, Injection{}, ""},
		{`{"inject_via":"Stdin"}`, Injection{}, ""},
		{`{"name":"K","inject_via":"Stdout"}`, Injection{}, ""},
		{`{"name":"K","inject_via":{"EnvVar":{"var_name":"A B"}}}`, Injection{}, ""},
		{`{"name":"K","inject_via":{"File":{"path":"/etc/passwd","mode":256}}}`, Injection{}, ""},
		{`{"name":"K","inject_via":{}}`, Injection{}, ""},
		{`{"name":"K","value":"x","inject_via":"Stdin"}`, Injection{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			var got Injection
			err := json.Unmarshal([]byte(tt.in), &got)
			if tt.out == "" {
				if err == nil || !(errors.Is(err, ErrBadInjection) || errors.Is(err, ErrBadSource)) {
					t.Fatalf("Unmarshal = %+v, %v; want an error", got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Unmarshal = %+v, %v", got, err)
			}
			b, err := json.Marshal(got)
			if err != nil || string(b) != tt.out {
				t.Fatalf("Marshal = %s, %v; want %s", b, err, tt.out)
			}
		})
	}
}
