package threat

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// FuzzParseJournal feeds arbitrary bytes to the state file loader: it must
// not panic; what it rejects must be ErrCorrupt, refused by
// NewOffenderTracker with the file left as it was; what it accepts must
// survive compaction (snapshot and reload) unchanged.
func FuzzParseJournal(f *testing.F) {
	h := journalHeader + "\n"
	f.Add([]byte(h + `{"op":"record","timestamp":1700000000,"score":0.9,"agent_id":"a"}` + "\n" +
		`{"op":"block","agent_id":"a","escalation":"Tier3Suspend","since":1700000000,"score":3.2}` + "\n"))
	f.Add([]byte(h + `{"op":"reset","agent_id":"a"}` + "\n"))
	f.Add([]byte(h + `{"op":"record","timestamp":5,"score":0.5,"agent_id":"a"}` + "\n" + `{"op":"reset","agent_id":"a"}` + "\n"))
	f.Add([]byte(h + `{"op":"record","timestamp":-9223372036854775808,"score":1e-320,"agent_id":"\u0000"}` + "\n" +
		`{"op":"block","agent_id":"b","escalation":"tier4_revoke","since":0,"score":1e300}` + "\n"))
	f.Add([]byte(h + `{"op":"rec`))
	f.Add([]byte(`{"kavach_off`))
	f.Add([]byte(h + "\n"))
	f.Add([]byte{0xff, 0xfe})
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, consumed, torn, err := parseJournal(data, 0)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not match ErrCorrupt", err)
			}
			path := filepath.Join(t.TempDir(), "s.json")
			if werr := os.WriteFile(path, data, 0o600); werr != nil {
				t.Fatal(werr)
			}
			if _, err := NewOffenderTracker(context.Background(), TrackerConfig{Path: path}); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("tracker over a corrupt file: %v", err)
			}
			if b, _ := os.ReadFile(path); string(b) != string(data) {
				t.Fatal("the corrupt file was changed")
			}
			return
		}
		if consumed > int64(len(data)) || torn != (consumed < int64(len(data))) {
			t.Fatalf("consumed %d of %d, torn %v", consumed, len(data), torn)
		}
		st := newState()
		for _, e := range entries {
			st.apply(e)
		}
		b, err := snapshot(&st)
		if err != nil {
			t.Fatalf("snapshot: %v", err)
		}
		back, n, torn, err := parseJournal(b, 0)
		if err != nil || torn || n != int64(len(b)) {
			t.Fatalf("snapshot does not parse: %v", err)
		}
		st2 := newState()
		for _, e := range back {
			st2.apply(e)
		}
		// oldest is only a lower bound (a reset does not raise it), so
		// compare what the state holds.
		if !reflect.DeepEqual(st.Records, st2.Records) || !reflect.DeepEqual(st.Agents, st2.Agents) || st.n != st2.n {
			t.Fatalf("round trip:\n%+v\n%+v", st, st2)
		}
	})
}
