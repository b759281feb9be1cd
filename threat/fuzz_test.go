package threat

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// FuzzDecodeState feeds arbitrary bytes to the state file loader: it must
// not panic, must reject with ErrCorrupt without touching the file, and
// whatever it accepts must survive a save and reload unchanged.
func FuzzDecodeState(f *testing.F) {
	f.Add([]byte(`{"version":1,"records":[{"timestamp":1700000000,"score":0.9,"agent_id":"a"}],"agents":{"a":{"escalation":"Tier3Suspend","since":1700000000,"score":3.2}}}`))
	f.Add([]byte(`{"version":1,"records":[],"agents":{}}`))
	f.Add([]byte(`{"version":1,"records":null,"agents":{}}`))
	f.Add([]byte(`{"version":1,"records":[{"timestamp":-9223372036854775808,"score":1e-320,"agent_id":"\u0000"}],"agents":{"b":{"escalation":"tier4_revoke","since":0,"score":1e300}}}`))
	f.Add([]byte(`[]`))
	f.Add([]byte{0xff, 0xfe})
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := decodeState(data)
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
		b, err := json.Marshal(st)
		if err != nil {
			t.Fatalf("marshal accepted state: %v", err)
		}
		back, err := decodeState(b)
		if err != nil || !reflect.DeepEqual(back, st) {
			t.Fatalf("round trip: %v\n%+v\n%+v", err, back, st)
		}
	})
}
