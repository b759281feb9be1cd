package guard

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

var timeZero time.Time

func TestNamespacesString(t *testing.T) {
	n := Namespaces{"user": 4026531837, "pid": 4026531836, "mnt": 4026532000}
	s := n.String()
	if want := "mnt=4026532000,pid=4026531836,user=4026531837"; s != want {
		t.Fatalf("String = %q, want %q", s, want)
	}
	back, err := ParseNamespaces(s)
	if err != nil || !reflect.DeepEqual(back, n) {
		t.Fatalf("ParseNamespaces(%q) = %v, %v", s, back, err)
	}
	for _, bad := range []string{"pid", "pid=", "pid=0", "pid=x", "PID=1", "pid=1,pid=2", "pid=1,", "=1", "pid=-1"} {
		if _, err := ParseNamespaces(bad); !errors.Is(err, ErrParse) {
			t.Errorf("ParseNamespaces(%q) = %v, want ErrParse", bad, err)
		}
	}
}

func TestParseNamespaceLink(t *testing.T) {
	if v, err := parseNamespaceLink("pid", "pid:[4026531836]"); err != nil || v != 4026531836 {
		t.Fatalf("got %d, %v", v, err)
	}
	for _, bad := range []string{"net:[1]", "pid:[]", "pid:[0]", "pid:[12", "pid:12]", "pid:[x]"} {
		if _, err := parseNamespaceLink("pid", bad); !errors.Is(err, ErrParse) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestJudge(t *testing.T) {
	errNoProc := errors.New("no /proc")
	tests := []struct {
		name      string
		ns        string
		own, host uint64
		ownErr    error
		want      NamespaceStatus
	}{
		{"differs from host", "mnt", 4026532100, 4026531832, nil, Private},
		{"equals host", "mnt", 4026531832, 4026531832, nil, Shared},
		{"cannot read own", "pid", 0, 4026531836, errNoProc, Unknown},
		{"initial pid, no reference", "pid", 0xEFFFFFFC, 0, nil, Shared},
		{"initial user, no reference", "user", 0xEFFFFFFD, 0, nil, Shared},
		{"non-initial pid, no reference", "pid", 4026532200, 0, nil, Unknown},
		{"mount, no reference", "mnt", 4026531832, 0, nil, Unknown},
		{"net, no reference", "net", 4026532300, 0, nil, Unknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := judge(tt.ns, tt.own, tt.ownErr, tt.host)
			if c.Status != tt.want || c.Name != tt.ns || c.Detail == "" {
				t.Fatalf("judge = %+v, want %s", c, tt.want)
			}
		})
	}
}

func TestReportIntact(t *testing.T) {
	priv := IntegrityCheck{Name: "pid", Status: Private}
	if r := report([]IntegrityCheck{priv, priv}, timeZero); !r.Intact || len(r.Violations()) != 0 {
		t.Errorf("all private: %+v", r)
	}
	r := report([]IntegrityCheck{priv, {Name: "net", Status: Unknown}, {Name: "mnt", Status: Shared}}, timeZero)
	if r.Intact {
		t.Error("intact with an unknown and a shared namespace")
	}
	if vs := r.Violations(); len(vs) != 1 || vs[0].Type != Integrity || vs[0].Match != "mnt" {
		t.Errorf("violations %v, want one for mnt", vs)
	}
	if report(nil, timeZero).Intact {
		t.Error("an empty report claims intact")
	}
}

func FuzzParseNamespaces(f *testing.F) {
	f.Add("mnt=4026532000,pid=4026531836")
	f.Add("user=1")
	f.Add(",,=")
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseNamespaces(s)
		if err != nil {
			return
		}
		back, err := ParseNamespaces(n.String())
		if err != nil || !reflect.DeepEqual(back, n) {
			t.Fatalf("round trip of %q: %v, %v", s, back, err)
		}
	})
}
