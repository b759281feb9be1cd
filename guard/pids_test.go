package guard

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestReadPids(t *testing.T) {
	tests := []struct {
		name    string
		files   map[string]string
		want    PidsStat
		wantErr error
	}{
		{"v1 layout", map[string]string{"pids.current": "3\n", "pids.max": "5\n", "pids.events": "max 2\n"},
			PidsStat{Current: 3, Max: 5, MaxEvents: 2, Peak: -1}, nil},
		{"v2 with peak and newer keys", map[string]string{"pids.current": "7\n", "pids.max": "max\n", "pids.events": "max 0\nmax.imposed 0\n", "pids.peak": "9\n"},
			PidsStat{Current: 7, Max: -1, MaxEvents: 0, Peak: 9}, nil},
		{"no events file", map[string]string{"pids.current": "1\n", "pids.max": "max\n"},
			PidsStat{Current: 1, Max: -1, MaxEvents: -1, Peak: -1}, nil},
		{"not a pids cgroup", map[string]string{"memory.current": "1\n"}, PidsStat{}, ErrNotPidsCgroup},
		{"garbage current", map[string]string{"pids.current": "many\n", "pids.max": "5\n"}, PidsStat{}, ErrParse},
		{"negative max", map[string]string{"pids.current": "1\n", "pids.max": "-5\n"}, PidsStat{}, ErrParse},
		{"events without max", map[string]string{"pids.current": "1\n", "pids.max": "5\n", "pids.events": "other 1\n"}, PidsStat{}, ErrParse},
		{"missing max", map[string]string{"pids.current": "1\n"}, PidsStat{}, os.ErrNotExist},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadPids(context.Background(), writeFiles(t, tt.files))
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("ReadPids error %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ReadPids = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := ReadPids(ctx, t.TempDir()); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
}

func TestCheckPids(t *testing.T) {
	tests := []struct {
		name string
		st   PidsStat
		cfg  Config
		want []string
	}{
		{"quiet", PidsStat{Current: 2, Max: 64, MaxEvents: 0}, Config{}, []string{}},
		{"limit was hit", PidsStat{Current: 3, Max: 64, MaxEvents: 1}, Config{}, []string{"fork_bomb:pids.events"}},
		{"near the limit", PidsStat{Current: 58, Max: 64, MaxEvents: 0}, Config{}, []string{"fork_bomb:pids.current"}},
		{"just below near", PidsStat{Current: 57, Max: 64, MaxEvents: 0}, Config{}, []string{}},
		{"hit and at the limit", PidsStat{Current: 5, Max: 5, MaxEvents: 3}, Config{}, []string{"fork_bomb:pids.events", "fork_bomb:pids.current"}},
		{"unlimited uses max_pids", PidsStat{Current: 65, Max: -1, MaxEvents: -1}, Config{}, []string{"fork_bomb:"}},
		{"unlimited under max_pids", PidsStat{Current: 64, Max: -1, MaxEvents: -1}, Config{}, []string{}},
		{"custom fraction", PidsStat{Current: 5, Max: 10}, Config{PidsNearFraction: 0.5}, []string{"fork_bomb:pids.current"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := hits(CheckPids(tt.st, tt.cfg)); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("CheckPids(%+v) = %q, want %q", tt.st, got, tt.want)
			}
		})
	}
}

func TestCheckForkBomb(t *testing.T) {
	// The original: a violation when current_pids > max_pids.
	for _, tt := range []struct {
		current int64
		cfg     Config
		want    int
	}{{64, Config{}, 0}, {65, Config{}, 1}, {11, Config{MaxPids: 10}, 1}, {10, Config{MaxPids: 10}, 0}} {
		if got := len(CheckForkBomb(tt.current, tt.cfg)); got != tt.want {
			t.Errorf("CheckForkBomb(%d, max %d) gave %d violations, want %d", tt.current, tt.cfg.MaxPids, got, tt.want)
		}
	}
}

func FuzzParsePidsEvents(f *testing.F) {
	f.Add("max 0\n")
	f.Add("max 12\nmax.imposed 3\n")
	f.Add("max -1")
	f.Add("max  \n")
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParsePidsEvents(s)
		if err == nil && n < 0 {
			t.Fatalf("ParsePidsEvents(%q) = %d", s, n)
		}
		if err != nil && !errors.Is(err, ErrParse) {
			t.Fatalf("error %v does not match ErrParse", err)
		}
	})
}

func BenchmarkCheckCgroupPids(b *testing.B) {
	dir := b.TempDir()
	for name, content := range map[string]string{"pids.current": "3\n", "pids.max": "64\n", "pids.events": "max 0\n", "pids.peak": "5\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			b.Fatal(err)
		}
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := CheckCgroupPids(ctx, dir, Config{}); err != nil {
			b.Fatal(err)
		}
	}
}
